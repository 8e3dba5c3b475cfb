package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, args []string, env []string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg, _, err := NewLoader().Load(fs, args, env)
	return cfg, err
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "parley.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsAreValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != "127.0.0.1:8080" || cfg.DataDir != "./parley-data" || cfg.Gateway.MaxFrameBytes != 65536 || cfg.Auth.AccessTTL != 15*time.Minute {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
}

func TestPrecedenceFileEnvFlags(t *testing.T) {
	file := writeFile(t, `{"gateway": {"max_frame_bytes": 2048, "rate_burst": 7}, "http": {"allowed_origins": ["https://a.example"]}, "log": {"level": "debug"}}`)
	env := []string{"PARLEY_CONFIG=" + file, "PARLEY_GATEWAY_MAX_FRAME_BYTES=4096", "PARLEY_AUTH_ACCESS_TTL=5m", "HOME=/x"}
	cfg, err := load(t, []string{"--gateway-max-frame-bytes", "8192", "--topics-enabled=false"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Gateway.MaxFrameBytes != 8192 {
		t.Fatalf("flag did not override env: %d", cfg.Gateway.MaxFrameBytes)
	}
	if cfg.Gateway.RateBurst != 7 || cfg.Log.Level != "debug" {
		t.Fatalf("file values lost: %+v", cfg.Gateway)
	}
	if cfg.Auth.AccessTTL != 5*time.Minute {
		t.Fatalf("env value lost: %v", cfg.Auth.AccessTTL)
	}
	if len(cfg.HTTP.AllowedOrigins) != 1 || cfg.HTTP.AllowedOrigins[0] != "https://a.example" {
		t.Fatalf("list from file: %v", cfg.HTTP.AllowedOrigins)
	}
	if cfg.Topics.Enabled {
		t.Fatal("bool flag not applied")
	}
	// Without the flag, the environment wins over the file.
	cfg, err = load(t, nil, env)
	if err != nil || cfg.Gateway.MaxFrameBytes != 4096 {
		t.Fatalf("env over file: %v %d", err, cfg.Gateway.MaxFrameBytes)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		args []string
		env  []string
		file string
		key  string
	}{
		{args: []string{"--gateway-max-frame-bytes", "10"}, key: "gateway.max_frame_bytes"},
		{env: []string{"PARLEY_AUTH_ACCESS_TTL=soon"}, key: "auth.access_ttl"},
		{env: []string{"PARLEY_NO_SUCH_OPTION=1"}, key: "PARLEY_NO_SUCH_OPTION"},
		{file: `{"gateway": {"max_frame_bites": 1}}`, key: "gateway.max_frame_bites"},
		{file: `{"log": {"level": "loud"}}`, key: "log.level"},
		{args: []string{"--database-url", "mysql://x"}, key: "database.url"},
		{args: []string{"--http-addr", "nowhere"}, key: "http.addr"},
		{file: `{"auth": {"sender": "smtp"}}`, key: "auth.smtp_addr"},
	}
	for _, c := range cases {
		env := c.env
		if c.file != "" {
			env = append(env, "PARLEY_CONFIG="+writeFile(t, c.file))
		}
		_, err := load(t, c.args, env)
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != c.key {
			t.Fatalf("%+v: error %v, want one naming %s", c, err, c.key)
		}
		if !strings.Contains(err.Error(), c.key) {
			t.Fatalf("message %q does not name %s", err, c.key)
		}
	}
}

func TestUsageListsEveryOption(t *testing.T) {
	var b strings.Builder
	Usage(&b)
	c := Default()
	for _, o := range Options(&c) {
		if !strings.Contains(b.String(), "--"+o.Flag()+"\n") || !strings.Contains(b.String(), o.Env()) {
			t.Fatalf("usage misses %s", o.Key)
		}
		if o.Help == "" {
			t.Fatalf("option %s has no help", o.Key)
		}
	}
}
