// Package config defines Parley's one Config struct, its defaults, and how it
// is loaded: a JSON file, then PARLEY_* environment variables, then command
// line flags, each overriding the one before. Every option has one key
// ("gateway.max_frame_bytes"), from which its environment variable
// (PARLEY_GATEWAY_MAX_FRAME_BYTES) and its flag (--gateway-max-frame-bytes)
// are derived, so the three sources cannot drift apart.
package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config is the whole configuration of a Parley node.
type Config struct {
	DataDir  string         `json:"data_dir" help:"directory for the SQLite databases, embedded NATS storage, uploads and analytics files"`
	Node     NodeConfig     `json:"node"`
	HTTP     HTTPConfig     `json:"http"`
	Database DatabaseConfig `json:"database"`
	NATS     NATSConfig     `json:"nats"`
	Log      LogConfig      `json:"log"`
	EventLog EventLogConfig `json:"eventlog"`
	Auth     AuthConfig     `json:"auth"`
	Gateway  GatewayConfig  `json:"gateway"`
	Presence PresenceConfig `json:"presence"`
	Cluster  ClusterConfig  `json:"cluster"`
	Topics   TopicsConfig   `json:"topics"`
	Chat     ChatConfig     `json:"chat"`
	Rooms    RoomsConfig    `json:"rooms"`
	Media    MediaConfig    `json:"media"`
}

// NodeConfig identifies this process in a deployment.
type NodeConfig struct {
	ID string `json:"id" help:"node id, unique in a deployment ([A-Za-z0-9_-]); empty picks a random one at start"`
}

// HTTPConfig configures the HTTP listener that serves the API, the WebSocket
// gateway and the web app.
type HTTPConfig struct {
	Addr            string        `json:"addr" help:"address to listen on (host:port; port 0 picks a free port)"`
	PublicURL       string        `json:"public_url" help:"URL clients use to reach this node (printed at start); empty derives it from http.addr"`
	AllowedOrigins  []string      `json:"allowed_origins" help:"comma-separated Origins allowed to open WebSockets and call the API from a browser; the server's own origin is always allowed; * allows any"`
	MaxBodyBytes    int64         `json:"max_body_bytes" help:"largest JSON request body accepted by the HTTP API"`
	ShutdownTimeout time.Duration `json:"shutdown_timeout" help:"how long a stopping node drains connections before it closes them"`
	TrustProxy      bool          `json:"trust_proxy" help:"take the client IP from X-Forwarded-For (only behind a trusted proxy)"`
	DebugAddr       string        `json:"debug_addr" help:"address of a separate listener serving Go's /debug/pprof (keep it on loopback); empty turns it off"`
}

// DatabaseConfig selects the store for the event log and the read models.
type DatabaseConfig struct {
	URL      string `json:"url" help:"postgres://... for PostgreSQL; empty uses SQLite files in data_dir"`
	MaxConns int    `json:"max_conns" help:"largest number of open database connections (PostgreSQL)"`
}

// NATSConfig selects the message bus.
type NATSConfig struct {
	URL string `json:"url" help:"nats://... of an external NATS (>= 2.11, JetStream enabled); empty runs an embedded server with no TCP listener"`
}

// LogConfig configures structured logging.
type LogConfig struct {
	Level  string `json:"level" help:"debug, info, warn or error"`
	Format string `json:"format" help:"text or json"`
}

// EventLogConfig tunes group commit.
type EventLogConfig struct {
	MaxBatch  int `json:"max_batch" help:"most append requests in one group commit"`
	QueueSize int `json:"queue_size" help:"most appends waiting for a commit before appenders block"`
}

// AuthConfig configures accounts and tokens.
type AuthConfig struct {
	Issuer            string        `json:"issuer" help:"iss claim of access tokens"`
	Audience          string        `json:"audience" help:"aud claim of access tokens"`
	AccessTTL         time.Duration `json:"access_ttl" help:"lifetime of an access token"`
	RefreshTTL        time.Duration `json:"refresh_ttl" help:"lifetime of a refresh token family without use"`
	KeyRotation       time.Duration `json:"key_rotation" help:"how often a new signing key is made; old keys stay published until their tokens expire"`
	CodeTTL           time.Duration `json:"code_ttl" help:"lifetime of a one-time sign-in or reset code"`
	CodeLength        int           `json:"code_length" help:"digits in a one-time code"`
	SignInPerAccount  int           `json:"signin_per_account" help:"sign-in attempts allowed per account per signin_window"`
	SignInPerIP       int           `json:"signin_per_ip" help:"sign-in and sign-up attempts allowed per client IP per signin_window"`
	SignInWindow      time.Duration `json:"signin_window" help:"window of the sign-in rate limits"`
	MinPasswordLength int           `json:"min_password_length" help:"shortest password accepted"`
	Sender            string        `json:"sender" help:"how one-time codes are sent: log or smtp"`
	SMTPAddr          string        `json:"smtp_addr" help:"host:port of the SMTP server (sender smtp)"`
	SMTPUsername      string        `json:"smtp_username" help:"SMTP user name (PLAIN auth; empty for none)"`
	SMTPPassword      string        `json:"smtp_password" help:"SMTP password"`
	SMTPFrom          string        `json:"smtp_from" help:"From address of code emails"`
}

// GatewayConfig configures the WebSocket gateway and its limits.
type GatewayConfig struct {
	MaxFrameBytes     int           `json:"max_frame_bytes" help:"largest frame a client may send"`
	RatePerSecond     float64       `json:"rate_per_second" help:"frames per second a connection may send (token bucket refill)"`
	RateBurst         int           `json:"rate_burst" help:"token bucket size of the per-connection rate limit"`
	MaxConnsPerUser   int           `json:"max_conns_per_user" help:"most simultaneous connections of one user on one node"`
	AuthTimeout       time.Duration `json:"auth_timeout" help:"time a new connection has to send its auth frame"`
	HeartbeatInterval time.Duration `json:"heartbeat_interval" help:"server ping interval; a peer silent for two intervals is closed"`
	SendQueueFrames   int           `json:"send_queue_frames" help:"most frames queued for one connection before it is closed as a slow consumer"`
	SendQueueBytes    int           `json:"send_queue_bytes" help:"most bytes queued for one connection before it is closed as a slow consumer"`
	WriteTimeout      time.Duration `json:"write_timeout" help:"longest a single socket write may block"`
	MaxSubscriptions  int           `json:"max_subscriptions" help:"most streams one connection may subscribe to"`
	ResumeMaxEvents   int           `json:"resume_max_events" help:"most missed events replayed per stream on resume; a larger gap gets a reset"`
	RecentEvents      int           `json:"recent_events" help:"events kept in memory per watched stream to serve resumes without reading the log"`
	Netpoll           bool          `json:"netpoll" help:"watch idle connections with epoll instead of one goroutine each (Linux)"`
}

// PresenceConfig configures the session directory.
type PresenceConfig struct {
	TTL time.Duration `json:"ttl" help:"lifetime of a directory entry not renewed by its node (a crashed node's users go offline after it)"`
}

// ClusterConfig tunes nodes sharing an external NATS and PostgreSQL.
type ClusterConfig struct {
	LeaseTTL time.Duration `json:"lease_ttl" help:"how long a node owns a stream without renewing; a dead node's streams move to another node after it"`
}

// TopicsConfig configures topics: open publish/subscribe streams for
// integrations, dashboards and load tests.
type TopicsConfig struct {
	Enabled bool `json:"enabled" help:"allow topic:<name> streams (any signed-in user may subscribe and publish)"`
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		DataDir: "./parley-data",
		HTTP: HTTPConfig{
			Addr:            "127.0.0.1:8080",
			MaxBodyBytes:    1 << 20,
			ShutdownTimeout: 10 * time.Second,
		},
		Database: DatabaseConfig{MaxConns: 16},
		Log:      LogConfig{Level: "info", Format: "text"},
		EventLog: EventLogConfig{MaxBatch: 2048, QueueSize: 16384},
		Auth: AuthConfig{
			Issuer:            "parley",
			Audience:          "parley",
			AccessTTL:         15 * time.Minute,
			RefreshTTL:        30 * 24 * time.Hour,
			KeyRotation:       24 * time.Hour,
			CodeTTL:           10 * time.Minute,
			CodeLength:        6,
			SignInPerAccount:  10,
			SignInPerIP:       60,
			SignInWindow:      time.Minute,
			MinPasswordLength: 8,
			Sender:            "log",
		},
		Gateway: GatewayConfig{
			MaxFrameBytes:     64 << 10,
			RatePerSecond:     50,
			RateBurst:         100,
			MaxConnsPerUser:   16,
			AuthTimeout:       10 * time.Second,
			HeartbeatInterval: 25 * time.Second,
			SendQueueFrames:   1024,
			SendQueueBytes:    4 << 20,
			WriteTimeout:      10 * time.Second,
			MaxSubscriptions:  1000,
			ResumeMaxEvents:   5000,
			RecentEvents:      256,
			Netpoll:           true,
		},
		Presence: PresenceConfig{TTL: 75 * time.Second},
		Cluster:  ClusterConfig{LeaseTTL: 10 * time.Second},
		Topics:   TopicsConfig{Enabled: true},
		Chat:     defaultChat(),
		Rooms:    defaultRooms(),
		Media:    defaultMedia(),
	}
}

// Error is a configuration error that names the offending key.
type Error struct {
	Key string
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("config: %s: %s", e.Key, e.Msg) }

func bad(key, format string, args ...any) error {
	return &Error{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks every option and returns an *Error naming the first bad key.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return bad("data_dir", "must not be empty")
	}
	if c.Node.ID != "" && !validToken(c.Node.ID) {
		return bad("node.id", "%q must use only [A-Za-z0-9_-]", c.Node.ID)
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		return bad("http.addr", "%q is not host:port", c.HTTP.Addr)
	}
	if c.HTTP.PublicURL != "" {
		if u, err := url.Parse(c.HTTP.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("http.public_url", "%q is not an http(s) URL", c.HTTP.PublicURL)
		}
	}
	for _, o := range c.HTTP.AllowedOrigins {
		if o == "*" {
			continue
		}
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
			return bad("http.allowed_origins", "%q is not an origin like https://chat.example.com", o)
		}
	}
	if c.HTTP.DebugAddr != "" {
		if _, _, err := net.SplitHostPort(c.HTTP.DebugAddr); err != nil {
			return bad("http.debug_addr", "%q is not host:port", c.HTTP.DebugAddr)
		}
	}
	if c.HTTP.MaxBodyBytes < 1024 {
		return bad("http.max_body_bytes", "must be at least 1024")
	}
	if c.HTTP.ShutdownTimeout <= 0 {
		return bad("http.shutdown_timeout", "must be positive")
	}
	if c.Database.URL != "" && !strings.HasPrefix(c.Database.URL, "postgres://") && !strings.HasPrefix(c.Database.URL, "postgresql://") {
		return bad("database.url", "must be a postgres:// URL or empty for SQLite")
	}
	if c.Database.MaxConns < 1 {
		return bad("database.max_conns", "must be at least 1")
	}
	if c.NATS.URL != "" && !strings.HasPrefix(c.NATS.URL, "nats://") && !strings.HasPrefix(c.NATS.URL, "tls://") {
		return bad("nats.url", "must be a nats:// or tls:// URL, or empty for the embedded server")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return bad("log.format", "%q is not text or json", c.Log.Format)
	}
	if c.EventLog.MaxBatch < 1 {
		return bad("eventlog.max_batch", "must be at least 1")
	}
	if c.EventLog.QueueSize < 1 {
		return bad("eventlog.queue_size", "must be at least 1")
	}
	if err := c.Auth.validate(); err != nil {
		return err
	}
	if err := c.Gateway.validate(); err != nil {
		return err
	}
	if c.Presence.TTL < time.Second {
		return bad("presence.ttl", "must be at least 1s")
	}
	if c.Cluster.LeaseTTL < 3*time.Second {
		return bad("cluster.lease_ttl", "must be at least 3s")
	}
	if err := c.Chat.validate(); err != nil {
		return err
	}
	if err := c.Rooms.validate(); err != nil {
		return err
	}
	return c.Media.validate()
}

func (a *AuthConfig) validate() error {
	switch {
	case a.Issuer == "":
		return bad("auth.issuer", "must not be empty")
	case a.Audience == "":
		return bad("auth.audience", "must not be empty")
	case a.AccessTTL < 10*time.Second || a.AccessTTL > 24*time.Hour:
		return bad("auth.access_ttl", "must be between 10s and 24h")
	case a.RefreshTTL < a.AccessTTL:
		return bad("auth.refresh_ttl", "must be at least auth.access_ttl")
	case a.KeyRotation < time.Minute:
		return bad("auth.key_rotation", "must be at least 1m")
	case a.CodeTTL < 30*time.Second:
		return bad("auth.code_ttl", "must be at least 30s")
	case a.CodeLength < 6 || a.CodeLength > 12:
		return bad("auth.code_length", "must be between 6 and 12")
	case a.SignInPerAccount < 1:
		return bad("auth.signin_per_account", "must be at least 1")
	case a.SignInPerIP < 1:
		return bad("auth.signin_per_ip", "must be at least 1")
	case a.SignInWindow < time.Second:
		return bad("auth.signin_window", "must be at least 1s")
	case a.MinPasswordLength < 8:
		return bad("auth.min_password_length", "must be at least 8")
	}
	switch a.Sender {
	case "log":
	case "smtp":
		if _, _, err := net.SplitHostPort(a.SMTPAddr); err != nil {
			return bad("auth.smtp_addr", "%q is not host:port (needed by sender smtp)", a.SMTPAddr)
		}
		if !strings.Contains(a.SMTPFrom, "@") {
			return bad("auth.smtp_from", "must be an email address (needed by sender smtp)")
		}
	default:
		return bad("auth.sender", "%q is not log or smtp", a.Sender)
	}
	return nil
}

func (g *GatewayConfig) validate() error {
	switch {
	case g.MaxFrameBytes < 1024 || g.MaxFrameBytes > 16<<20:
		return bad("gateway.max_frame_bytes", "must be between 1024 and 16777216")
	case g.RatePerSecond <= 0:
		return bad("gateway.rate_per_second", "must be positive")
	case g.RateBurst < 1:
		return bad("gateway.rate_burst", "must be at least 1")
	case g.MaxConnsPerUser < 1:
		return bad("gateway.max_conns_per_user", "must be at least 1")
	case g.AuthTimeout < 100*time.Millisecond:
		return bad("gateway.auth_timeout", "must be at least 100ms")
	case g.HeartbeatInterval < 100*time.Millisecond:
		return bad("gateway.heartbeat_interval", "must be at least 100ms")
	case g.SendQueueFrames < 8:
		return bad("gateway.send_queue_frames", "must be at least 8")
	case g.SendQueueBytes < g.MaxFrameBytes:
		return bad("gateway.send_queue_bytes", "must be at least gateway.max_frame_bytes")
	case g.WriteTimeout < 100*time.Millisecond:
		return bad("gateway.write_timeout", "must be at least 100ms")
	case g.MaxSubscriptions < 1:
		return bad("gateway.max_subscriptions", "must be at least 1")
	case g.ResumeMaxEvents < 1:
		return bad("gateway.resume_max_events", "must be at least 1")
	case g.RecentEvents < 0:
		return bad("gateway.recent_events", "must not be negative")
	}
	return nil
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Hostname returns the host name, or "parley" if it cannot be read.
func Hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "parley"
	}
	return h
}
