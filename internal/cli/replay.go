package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/app"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
)

func replay(args []string, env Env) int {
	var stream string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		stream, args = args[0], args[1:]
	}
	var at string
	var asJSON bool
	cfg, rest, code := loadConfig("replay", "parley replay STREAM [--at TIME]: print the events of STREAM up to TIME (RFC 3339; default now) and the state the stream's domain rebuilds from them.", args, env, func(fs *flag.FlagSet) {
		fs.StringVar(&at, "at", "", "replay events up to this time (RFC 3339, e.g. 2026-11-22T10:00:00Z); default: all")
		fs.BoolVar(&asJSON, "json", false, "print one JSON document {events, state} instead of lines")
	})
	if code >= 0 {
		return code
	}
	if stream == "" && len(rest) > 0 {
		stream, rest = rest[0], rest[1:]
	}
	if stream == "" || len(rest) > 0 {
		fmt.Fprintln(env.Stderr, "usage: parley replay STREAM [--at TIME] [--json]")
		return ExitConfig
	}
	sid := core.StreamID(stream)
	if err := sid.Validate(); err != nil {
		fmt.Fprintf(env.Stderr, "parley replay: %q: %v\n", stream, err)
		return ExitConfig
	}
	var atTime time.Time
	if at != "" {
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			fmt.Fprintf(env.Stderr, "parley replay: --at %q is not an RFC 3339 time\n", at)
			return ExitConfig
		}
		atTime = t
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var events []eventlog.Event
	each := func(e *eventlog.Event) {
		if asJSON {
			events = append(events, *e)
			return
		}
		line, _ := json.Marshal(e)
		fmt.Fprintln(env.Stdout, string(line))
	}
	state, err := app.Replay(ctx, cfg, sid, atTime, each)
	if err != nil {
		fmt.Fprintf(env.Stderr, "parley replay: %v\n", err)
		return ExitFail
	}
	if asJSON {
		if events == nil {
			events = []eventlog.Event{}
		}
		out, _ := json.MarshalIndent(map[string]any{"stream": sid, "at": at, "events": events, "state": state}, "", "  ")
		fmt.Fprintln(env.Stdout, string(out))
		return ExitOK
	}
	out, _ := json.MarshalIndent(state, "", "  ")
	fmt.Fprintf(env.Stdout, "state:\n%s\n", out)
	return ExitOK
}
