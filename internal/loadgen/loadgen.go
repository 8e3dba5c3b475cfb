// Package loadgen is `parley loadgen`: a load generator for one Parley node
// on this machine. It opens many authenticated WebSocket connections at a
// set rate from several loopback source addresses, makes them follow a
// scenario (stay idle, or receive a topic's messages while publishers
// publish), checks every receiver's sequence for gaps and duplicates,
// measures connect and delivery latencies and the node's memory, and
// reports. Runs are bounded in connections and time and target loopback
// addresses only.
//
// One process holds at most about ten thousand connections (the open-file
// limit caps every process here), so larger runs are spread over worker
// processes: the coordinating process re-executes the parley binary with
// the hidden --worker flag, hands each worker its share of connections,
// accounts and source addresses as JSON on stdin, reads progress and
// results as JSON lines on stdout, and merges their histograms.
package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// Main runs `parley loadgen` with args (the command's arguments) and returns
// the process exit code. The summary goes to stdout, progress and warnings
// to stderr.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var (
		o       Options
		sources string
	)
	fs := flagSet(&o, &sources, stderr)
	fs.Usage = func() { usage(fs, stdout) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "parley loadgen: unexpected argument %q (see --help)\n", fs.Arg(0))
		return exitUsage
	}
	if o.worker {
		return runWorker(ctx, os.Stdin, stdout)
	}
	var err error
	if o.Sources, err = parseSources(sources); err != nil {
		fmt.Fprintf(stderr, "parley loadgen: --sources: %v\n", err)
		return exitUsage
	}
	if err := o.validate(); err != nil {
		fmt.Fprintf(stderr, "parley loadgen: %v\n", err)
		return exitUsage
	}
	r := &runner{o: &o, prog: newProgress(stderr, o.NoProgress), stderr: stderr}
	sum, err := r.run(ctx)
	if sum != nil {
		b, _ := json.MarshalIndent(sum, "", "  ")
		b = append(b, '\n')
		if o.JSON {
			_, _ = stdout.Write(b)
		} else {
			sum.print(stdout)
		}
		if o.JSONFile != "" {
			if werr := os.WriteFile(o.JSONFile, b, 0o644); werr != nil {
				fmt.Fprintf(stderr, "parley loadgen: %v\n", werr)
				return exitFailed
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "parley loadgen: %v\n", err)
		counts, _ := r.errs.snapshot()
		for _, h := range hints(counts) {
			fmt.Fprintf(stderr, "hint: %s\n", h)
		}
		return exitFailed
	}
	if !sum.OK {
		return exitFailed
	}
	return exitOK
}

// waitFor sleeps d or until ctx ends.
func waitFor(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
