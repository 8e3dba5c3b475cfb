package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/client"
	"github.com/parleyhq/parley/internal/config"
)

func run(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, Env{Stdout: &out, Stderr: &errb, Environ: env})
	return code, out.String(), errb.String()
}

func TestInvalidConfigExitsTwoNamingTheKey(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		key  string
	}{
		{args: []string{"serve", "--gateway-max-frame-bytes", "12"}, key: "gateway.max_frame_bytes"},
		{args: []string{"serve"}, env: []string{"PARLEY_LOG_LEVEL=shout"}, key: "log.level"},
		{args: []string{"serve"}, env: []string{"PARLEY_GATEWAY_MAX_FRAME_BYTE=1"}, key: "PARLEY_GATEWAY_MAX_FRAME_BYTE"},
		{args: []string{"serve", "--database-url", "mysql://db"}, key: "database.url"},
		{args: []string{"migrate", "--auth-access-ttl", "1s"}, key: "auth.access_ttl"},
	} {
		code, _, stderr := run(t, tc.env, tc.args...)
		if code != ExitConfig || !strings.Contains(stderr, tc.key) {
			t.Fatalf("%v %v: exit %d, stderr %q; want exit 2 naming %s", tc.args, tc.env, code, stderr, tc.key)
		}
	}
	if code, _, _ := run(t, nil, "frobnicate"); code != ExitConfig {
		t.Fatalf("unknown command exit %d", code)
	}
}

func TestHelpListsEveryOption(t *testing.T) {
	code, out, _ := run(t, nil, "serve", "--help")
	if code != ExitOK {
		t.Fatalf("--help exit %d", code)
	}
	c := config.Default()
	for _, o := range config.Options(&c) {
		if !strings.Contains(out, "--"+o.Flag()) || !strings.Contains(out, o.Env()) {
			t.Fatalf("serve --help does not list %s", o.Key)
		}
	}
	if code, out, _ := run(t, nil, "version"); code != 0 || !strings.HasPrefix(out, "parley ") {
		t.Fatalf("version: %d %q", code, out)
	}
}

// TestServeReplayMigrate builds the binary, runs `parley serve` as a real
// process on a free port, publishes through it, stops it with SIGTERM, then
// runs `replay` and `migrate` on its data directory.
func TestServeReplayMigrate(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "parley")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/parley").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := t.TempDir()
	cmd := exec.Command(bin, "serve", "--http-addr", "127.0.0.1:0", "--data-dir", data, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "PARLEY_HTTP_SHUTDOWN_TIMEOUT=3s")
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if i := strings.Index(sc.Text(), "is running at "); i >= 0 {
				urls <- strings.TrimSpace(sc.Text()[i+len("is running at "):])
			}
		}
	}()
	var url string
	select {
	case url = <-urls:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve printed no URL; stderr: %s", stderr.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	api := &client.API{Base: url}
	tok, err := api.SignUp(ctx, "ada@example.test", "correct horse battery", "ada", "Ada")
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(ctx, client.Options{URL: url, Token: client.StaticToken(tok.AccessToken)})
	if err != nil {
		t.Fatal(err)
	}
	var mid time.Time
	for i := 0; i < 5; i++ {
		if i == 3 {
			time.Sleep(20 * time.Millisecond)
			mid = time.Now().UTC()
			time.Sleep(20 * time.Millisecond)
		}
		if err := c.Request(ctx, "topic.publish", map[string]any{"stream": "topic:cli", "data": i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM; stderr: %s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}

	code, out, errOut := run(t, nil, "replay", "topic:cli", "--data-dir", data, "--json")
	if code != 0 {
		t.Fatalf("replay: %d %s", code, errOut)
	}
	var all struct {
		Events []json.RawMessage `json:"events"`
		State  struct {
			Messages int `json:"messages"`
		} `json:"state"`
	}
	if err := json.Unmarshal([]byte(out), &all); err != nil || len(all.Events) != 5 || all.State.Messages != 5 {
		t.Fatalf("replay: %v %d events, state %+v\n%s", err, len(all.Events), all.State, out)
	}
	code, out, errOut = run(t, nil, "replay", "topic:cli", "--data-dir", data, "--at", mid.Format(time.RFC3339Nano))
	if code != 0 || strings.Count(out, `"type":"topic.published"`) != 3 || !strings.Contains(out, `"messages": 3`) {
		t.Fatalf("replay --at: %d %s\n%s", code, errOut, out)
	}
	if code, _, errOut := run(t, nil, "replay", "not a stream", "--data-dir", data); code != ExitConfig {
		t.Fatalf("bad stream: %d %s", code, errOut)
	}
	if code, out, errOut := run(t, nil, "migrate", "--data-dir", data); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate: %d %s %s", code, out, errOut)
	}
}
