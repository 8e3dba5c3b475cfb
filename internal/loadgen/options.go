package loadgen

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Options configure a run. Main fills them from the command line.
type Options struct {
	URL               string
	MetricsURL        string
	Scenario          string
	Conns             int
	Rate              float64
	Sources           []string
	Procs             int
	Users             int
	ConnsPerUser      int
	Duration          time.Duration
	PublishRate       float64
	Publishers        int
	Stream            string
	Payload           int
	Settle            time.Duration
	DrainTimeout      time.Duration
	DialTimeout       time.Duration
	InFlight          int
	SignupConcurrency int
	MaxConns          int
	MaxDuration       time.Duration
	MaxErrors         int
	JSON              bool
	JSONFile          string
	NoProgress        bool

	worker bool // run as a worker of a parent loadgen process
}

// Defaults of the flags.
const (
	defaultURL         = "http://127.0.0.1:8080"
	defaultSources     = "127.0.0.2-127.0.0.9"
	defaultMaxConns    = 100_000
	defaultMaxDuration = 30 * time.Minute
	// connsPerProc is how many load connections one process holds when
	// --procs is left to choose: well under the open-file limit, and few
	// enough that one process keeps up with their events.
	connsPerProc = 10_000
	// fdReserve is the number of descriptors a process keeps for other uses
	// than load connections.
	fdReserve = 256
)

// flagSet declares every flag into o and returns the set.
func flagSet(o *Options, sources *string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("parley loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.URL, "url", defaultURL, "base URL of the Parley node under load; the host must be a loopback address (127.0.0.0/8)")
	fs.StringVar(&o.MetricsURL, "metrics-url", "", "Prometheus endpoint of the node, read for its memory, descriptors and connections (default <url>/metrics)")
	fs.StringVar(&o.Scenario, "scenario", "fanout", "what the connections do: "+strings.Join(scenarioNames(), " | "))
	fs.IntVar(&o.Conns, "conns", 1000, "number of load connections to open")
	fs.Float64Var(&o.Rate, "rate", 500, "connections opened per second (over all processes)")
	fs.StringVar(sources, "sources", defaultSources, "loopback source addresses to connect from: a range A-B, a comma-separated list, or both")
	fs.IntVar(&o.Procs, "procs", 0, fmt.Sprintf("processes holding the connections (each has its own open-file limit); 0 picks one per %d connections", connsPerProc))
	fs.IntVar(&o.Users, "users", 0, "accounts to create and spread the connections over; 0 picks the fewest the per-user connection limit allows")
	fs.IntVar(&o.ConnsPerUser, "conns-per-user", 0, "connections per account; 0 uses the node's gateway.max_conns_per_user from its hello (16 if it does not say)")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to hold the connections (idle) or to publish (fanout) once all are connected")
	fs.Float64Var(&o.PublishRate, "publish-rate", 10, "fanout: messages published per second, over all publishers")
	fs.IntVar(&o.Publishers, "publishers", 1, "fanout: publishing connections (extra to --conns)")
	fs.StringVar(&o.Stream, "stream", "", "fanout: topic stream to publish on and subscribe to (default topic:loadgen-<random>)")
	fs.IntVar(&o.Payload, "payload", 64, "fanout: approximate size in bytes of each published message's data")
	fs.DurationVar(&o.Settle, "settle", 3*time.Second, "wait after the last connection before reading the node's memory")
	fs.DurationVar(&o.DrainTimeout, "drain-timeout", 15*time.Second, "longest wait, after publishing stops, for every receiver to get the last message")
	fs.DurationVar(&o.DialTimeout, "dial-timeout", 10*time.Second, "longest time to connect and authenticate one connection")
	fs.IntVar(&o.InFlight, "inflight", 512, "most connection attempts in flight at once (per process)")
	fs.IntVar(&o.SignupConcurrency, "signup-concurrency", 2, "sign-ups in flight at once (each costs the node a password hash)")
	fs.IntVar(&o.MaxConns, "max-conns", defaultMaxConns, "hard cap on --conns for any run")
	fs.DurationVar(&o.MaxDuration, "max-duration", defaultMaxDuration, "hard cap on the whole run's time; everything stops by then")
	fs.IntVar(&o.MaxErrors, "max-errors", 0, "errors tolerated (failed connections, disconnects, failed publishes) before the run counts as failed")
	fs.BoolVar(&o.JSON, "json", false, "print the summary as one JSON object")
	fs.StringVar(&o.JSONFile, "json-file", "", "also write the summary as JSON to this file")
	fs.BoolVar(&o.NoProgress, "no-progress", false, "print no progress while running")
	fs.BoolVar(&o.worker, "worker", false, "internal: run as a worker of a parent loadgen process")
	return fs
}

// usage prints the flags, except the hidden ones.
func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprint(w, `parley loadgen: open many authenticated connections to a Parley node on this
machine, optionally publish to them, check every delivery and report.

Scenarios:
  idle     connect and stay idle: measures connect rate and the node's memory
           per idle connection
  fanout   every connection subscribes to one topic; publishers publish at
           --publish-rate; every receiver checks its sequence for gaps and
           duplicates and measures delivery latency

Options:
`)
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "worker" {
			return
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			def = " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "  --%s\n        %s%s\n", f.Name, f.Usage, def)
	})
	fmt.Fprint(w, `
The exit status is 0 when every check passed, 1 when the run failed or found
gaps, duplicates or lost messages, and 2 for bad options.
`)
}

// validate checks the options and fills the derived ones.
func (o *Options) validate() error {
	if err := checkLoopbackURL(o.URL); err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	if o.MetricsURL == "" {
		o.MetricsURL = strings.TrimRight(o.URL, "/") + "/metrics"
	} else if err := checkLoopbackURL(o.MetricsURL); err != nil {
		return fmt.Errorf("--metrics-url: %w", err)
	}
	if lookupScenario(o.Scenario) == nil {
		return fmt.Errorf("--scenario: unknown scenario %q (want %s)", o.Scenario, strings.Join(scenarioNames(), ", "))
	}
	switch {
	case o.Conns < 1:
		return errors.New("--conns must be at least 1")
	case o.MaxConns < 1:
		return errors.New("--max-conns must be at least 1")
	case o.Conns > o.MaxConns:
		return fmt.Errorf("--conns %d is above --max-conns %d", o.Conns, o.MaxConns)
	case o.Rate <= 0:
		return errors.New("--rate must be positive")
	case o.Procs < 0:
		return errors.New("--procs must not be negative")
	case o.Users < 0, o.ConnsPerUser < 0:
		return errors.New("--users and --conns-per-user must not be negative")
	case o.Duration < 0:
		return errors.New("--duration must not be negative")
	case o.MaxDuration <= 0:
		return errors.New("--max-duration must be positive")
	case o.Settle < 0, o.DrainTimeout < 0:
		return errors.New("--settle and --drain-timeout must not be negative")
	case o.DialTimeout <= 0:
		return errors.New("--dial-timeout must be positive")
	case o.InFlight < 1, o.SignupConcurrency < 1:
		return errors.New("--inflight and --signup-concurrency must be at least 1")
	case o.MaxErrors < 0:
		return errors.New("--max-errors must not be negative")
	case o.Payload < 0 || o.Payload > 60_000:
		return errors.New("--payload must be between 0 and 60000 bytes")
	}
	if len(o.Sources) == 0 {
		return errors.New("--sources: no address given")
	}
	// The connect phase alone takes conns/rate; the run must fit its cap.
	if need := time.Duration(float64(o.Conns)/o.Rate*float64(time.Second)) + o.Settle + o.Duration; need > o.MaxDuration {
		return fmt.Errorf("connecting at --rate (%s) and holding for --duration and --settle take %s, more than --max-duration %s",
			time.Duration(float64(o.Conns)/o.Rate*float64(time.Second)).Round(time.Second), need.Round(time.Second), o.MaxDuration)
	}
	return nil
}

// checkLoopbackURL checks that raw is an http(s) or ws(s) URL whose host is
// a loopback IPv4 address or localhost. Load must never leave the machine.
func checkLoopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("bad URL %q: %w", raw, err)
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return fmt.Errorf("bad URL %q: the scheme must be http, https, ws or wss", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Is4() || !loopback.Contains(a) {
		return fmt.Errorf("refusing to load %q: loadgen targets loopback addresses only (127.0.0.0/8 or localhost)", host)
	}
	return nil
}

var loopback = netip.MustParsePrefix("127.0.0.0/8")

// parseSources reads "127.0.0.2-127.0.0.9", "127.0.0.2,127.0.0.5" or a mix,
// and checks that every address is a loopback address.
func parseSources(s string) ([]string, error) {
	var out []string
	seen := map[netip.Addr]bool{}
	add := func(a netip.Addr) error {
		if !a.Is4() || !loopback.Contains(a) {
			return fmt.Errorf("source address %s is not in 127.0.0.0/8", a)
		}
		if !seen[a] {
			seen[a] = true
			out = append(out, a.String())
		}
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := netip.ParseAddr(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("bad source address %q", lo)
		}
		if !isRange {
			if err := add(a); err != nil {
				return nil, err
			}
			continue
		}
		b, err := netip.ParseAddr(strings.TrimSpace(hi))
		if err != nil {
			return nil, fmt.Errorf("bad source address %q", hi)
		}
		if b.Less(a) {
			return nil, fmt.Errorf("source range %s ends before it starts", part)
		}
		for n := 0; ; n++ {
			if n >= 4096 {
				return nil, fmt.Errorf("source range %s has more than 4096 addresses", part)
			}
			if err := add(a); err != nil {
				return nil, err
			}
			if a == b {
				break
			}
			a = a.Next()
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no source address given")
	}
	return out, nil
}

// sourceDialer returns a dialer that connects from the source address src.
func sourceDialer(src string, timeout time.Duration) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: timeout}
}
