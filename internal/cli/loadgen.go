package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/parleyhq/parley/internal/loadgen"
)

func runLoadgen(args []string, env Env) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return loadgen.Main(ctx, args, env.Stdout, env.Stderr)
}
