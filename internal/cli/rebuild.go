package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/app"
)

// rebuild empties the chat read models and projects them again from the
// event log.
func rebuild(args []string, env Env) int {
	cfg, rest, code := loadConfig("rebuild", "parley rebuild: rebuild the chat read models (messages, threads, reactions, pins, members, read state, search index) from the event log.", args, env, nil)
	if code >= 0 {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(env.Stderr, "parley rebuild: unexpected argument %q\n", rest[0])
		return ExitConfig
	}
	ctx, cancel := context.WithTimeout(context.Background(), 24*time.Hour)
	defer cancel()
	st, err := app.RebuildChatStores(ctx, cfg)
	if err != nil {
		fmt.Fprintf(env.Stderr, "parley rebuild: %v\n", err)
		return ExitFail
	}
	fmt.Fprintf(env.Stdout, "rebuilt the chat read models from %d events of %d streams in %s\n", st.Events, st.Streams, st.Took.Round(time.Millisecond))
	return ExitOK
}
