// Package cli implements the parley command: serve, migrate, replay,
// loadgen and version. It parses arguments and configuration and hands over
// to internal/app; it holds no server logic of its own.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/parleyhq/parley/internal/app"
	"github.com/parleyhq/parley/internal/config"
)

// Version is set at build time with -ldflags "-X .../cli.Version=v1.2.3".
var Version = ""

// version returns the build's version.
func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Exit codes.
const (
	ExitOK     = 0
	ExitFail   = 1
	ExitConfig = 2
)

// Env carries the process environment so tests can run commands in-process.
type Env struct {
	Stdout, Stderr io.Writer
	Environ        []string
}

const usage = `Parley: self-hostable team messaging, live audio rooms and calls.

Usage:
  parley serve   [options]            run a node (embedded NATS and SQLite by default)
  parley migrate [options]            apply database migrations and exit
  parley replay  STREAM [--at TIME]   print a stream's events and the state they rebuild
  parley rebuild [options]            rebuild the chat read models from the event log
  parley loadgen [options]            generate load against a running node
  parley version                      print the version

Run "parley <command> --help" for the options of a command.
`

// Main runs the command in args (without the program name) and returns the
// process exit code.
func Main(args []string, env Env) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return ExitConfig
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], env)
	case "migrate":
		return migrate(args[1:], env)
	case "replay":
		return replay(args[1:], env)
	case "rebuild":
		return rebuild(args[1:], env)
	case "loadgen":
		return runLoadgen(args[1:], env)
	case "version", "--version", "-version":
		fmt.Fprintln(env.Stdout, "parley", version())
		return ExitOK
	case "help", "--help", "-h", "-help":
		fmt.Fprint(env.Stdout, usage)
		return ExitOK
	}
	fmt.Fprintf(env.Stderr, "parley: unknown command %q\n\n%s", args[0], usage)
	return ExitConfig
}

// loadConfig parses the options shared by serve, migrate and replay.
// extra registers command-specific flags.
func loadConfig(name, summary string, args []string, env Env, extra func(*flag.FlagSet)) (config.Config, []string, int) {
	fs := flag.NewFlagSet("parley "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	if extra != nil {
		extra(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(env.Stdout, "%s\n\nOptions (flags override PARLEY_* environment variables, which override the --config file):\n", summary)
		fmt.Fprintf(env.Stdout, "  --config\n        path to a JSON config file (env PARLEY_CONFIG)\n")
		if extra != nil {
			fs.VisitAll(func(f *flag.Flag) {
				if f.Name == "config" || isConfigFlag(f.Name) {
					return
				}
				fmt.Fprintf(env.Stdout, "  --%s\n        %s\n", f.Name, f.Usage)
			})
		}
		config.Usage(env.Stdout)
	}
	cfg, rest, err := config.NewLoader().Load(fs, args, env.Environ)
	if errors.Is(err, flag.ErrHelp) {
		return cfg, nil, ExitOK
	}
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			fmt.Fprintf(env.Stderr, "parley: invalid configuration: %v\n", err)
		} else {
			fmt.Fprintf(env.Stderr, "parley: %v\n", err)
		}
		return cfg, nil, ExitConfig
	}
	return cfg, rest, -1
}

func isConfigFlag(name string) bool {
	c := config.Default()
	for _, o := range config.Options(&c) {
		if o.Flag() == name {
			return true
		}
	}
	return false
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(args []string, env Env) int {
	cfg, rest, code := loadConfig("serve", "parley serve: run a Parley node.", args, env, nil)
	if code >= 0 {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(env.Stderr, "parley serve: unexpected argument %q\n", rest[0])
		return ExitConfig
	}
	log := newLogger(cfg, env.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &app.Main{Config: cfg, Logger: log, Version: version()}
	if err := m.Run(ctx); err != nil {
		fmt.Fprintf(env.Stderr, "parley: %v\n", err)
		var ce *config.Error
		if errors.As(err, &ce) {
			return ExitConfig
		}
		return ExitFail
	}
	fmt.Fprintf(env.Stdout, "Parley %s is running at %s\n", version(), m.URL())
	<-ctx.Done()
	stop()
	log.Info("stopping: draining connections", "timeout", cfg.HTTP.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	m.Shutdown(sctx)
	cancel()
	if err := m.Close(); err != nil {
		log.Error("close", "err", err)
		return ExitFail
	}
	log.Info("stopped")
	return ExitOK
}

func migrate(args []string, env Env) int {
	cfg, _, code := loadConfig("migrate", "parley migrate: apply database migrations and exit.", args, env, nil)
	if code >= 0 {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	applied, err := app.Migrate(ctx, cfg)
	if err != nil {
		fmt.Fprintf(env.Stderr, "parley migrate: %v\n", err)
		return ExitFail
	}
	fmt.Fprintf(env.Stdout, "database is up to date (%d migrations known)\n", applied)
	return ExitOK
}
