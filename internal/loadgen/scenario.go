package loadgen

import (
	"context"
	"encoding/json"
	"sort"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/client"
)

// Scenario is one kind of load. The coordinating process prepares it once,
// every load connection (in any process) then follows the Plan it returned,
// and once all are connected the coordinator drives it for --duration. A
// new scenario (live rooms, say) implements these methods and registers in
// scenarios.
type Scenario interface {
	// Prepare runs before any load connection opens. It may create
	// accounts and streams and open the connections it drives with; it
	// returns what every load connection does.
	Prepare(ctx context.Context, env *Env) (Plan, error)
	// Drive makes the traffic for d once every load connection is up, and
	// returns what the receivers must have got by the end.
	Drive(ctx context.Context, env *Env, d time.Duration) (Outcome, error)
	// Close releases what Prepare opened.
	Close()
}

// Plan is what every load connection does once connected: the requests it
// sends, in order, then the stream it subscribes to. Receivers check the
// stream's sequence for gaps and duplicates and record the delivery latency
// of events whose data carries a send time (see sendKey). A Plan crosses to
// worker processes as JSON.
type Plan struct {
	Calls  []Call `json:"calls,omitempty"`
	Stream string `json:"stream,omitempty"`
}

// Call is one request of a Plan.
type Call struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params,omitempty"`
}

// Outcome is what Drive produced.
type Outcome struct {
	// Sent counts the messages the scenario sent (and the node accepted).
	Sent int64
	// Final is the position of the plan's stream every receiver must reach.
	Final uint64
	// Start and End bound the traffic.
	Start, End time.Time
}

// Env is what a scenario may use in the coordinating process.
type Env struct {
	Options *Options
	// Owner is an account the scenario may act as (publisher, room host).
	Owner *client.Session
	// Limits are the limits the node announced in its hello.
	Limits Limits
	// Accounts creates more accounts.
	Accounts *accounts
	// APIs are the HTTP clients, one per source address.
	APIs *apiPool
	// Errors counts errors by phase and code.
	Errors *errorCounts
	// Sent is the number of messages sent so far, for progress.
	Sent atomic.Int64
}

// Limits are the node's limits that shape the load.
type Limits struct {
	RatePerSecond   float64 `json:"rate_per_second"`
	RateBurst       int     `json:"rate_burst"`
	MaxConnsPerUser int     `json:"max_conns_per_user"`
}

// Dial opens a connection of the coordinating process as sess, from the
// source address number i.
func (e *Env) Dial(ctx context.Context, sess *client.Session, i int) (*client.Client, error) {
	src := e.Options.Sources[i%len(e.Options.Sources)]
	return client.Dial(ctx, client.Options{
		URL:         e.Options.URL,
		Token:       sess.Token,
		LocalAddr:   src,
		DialTimeout: e.Options.DialTimeout,
		BackoffMin:  250 * time.Millisecond,
		BackoffMax:  5 * time.Second,
	})
}

// scenarios holds every scenario by name.
var scenarios = map[string]func() Scenario{
	"idle":   func() Scenario { return idle{} },
	"fanout": func() Scenario { return &fanout{} },
}

func lookupScenario(name string) func() Scenario { return scenarios[name] }

func scenarioNames() []string {
	var out []string
	for n := range scenarios {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// idle connects and holds: it measures connect rate and the node's memory
// per idle authenticated connection.
type idle struct{}

func (idle) Prepare(context.Context, *Env) (Plan, error) { return Plan{}, nil }

func (idle) Drive(ctx context.Context, _ *Env, d time.Duration) (Outcome, error) {
	o := Outcome{Start: time.Now()}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	o.End = time.Now()
	return o, nil
}

func (idle) Close() {}
