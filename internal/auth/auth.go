// Package auth is Parley's account and token service: sign-up and sign-in
// with an email and an Argon2id-hashed password, one-time codes sent by email
// or SMS through a pluggable Sender, short-lived EdDSA access tokens (JWTs)
// signed by keys that rotate with overlap and are published as a JWK Set,
// rotating refresh tokens whose reuse revokes their whole sign-in session, and
// rate limits on every way to guess a credential.
//
// The package does no I/O of its own: it reaches databases through the store
// interfaces in store.go and delivers codes through a Sender.
//
// Access token checks (Verify) are meant for hot paths: a token verified once
// is remembered in a bounded in-memory cache, so that later checks of the same
// token cost a hash and a map lookup instead of an Ed25519 verification.
// Revocation still applies to cached tokens: the Service keeps the ids of
// revoked sessions in memory until their access tokens would have expired.
package auth

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// MaxCodeAttempts is the number of wrong guesses a one-time code survives.
const MaxCodeAttempts = 5

// DefaultCacheSize is the number of verified access tokens the Service
// remembers.
const DefaultCacheSize = 1 << 16

// maintainEvery is how often a Service reloads keys, makes the next key ahead
// of time and prunes the store.
const maintainEvery = 30 * time.Second

// minKeyReload is the shortest time between two key reloads caused by tokens
// with an unknown kid, so that forged kids cannot flood the store.
const minKeyReload = time.Second

// revokeMargin is added to how long a revoked session id is remembered, to
// cover clock differences between nodes.
const revokeMargin = time.Minute

// User is an account as the rest of Parley sees it.
type User struct {
	ID          core.UserID `json:"id"`
	Email       string      `json:"email"`
	Phone       string      `json:"phone,omitempty"`
	Handle      string      `json:"handle"`
	DisplayName string      `json:"display_name"`
	AvatarURL   string      `json:"avatar_url"`
	CreatedAt   time.Time   `json:"created_at"`
}

// Claims are the verified contents of an access token.
type Claims struct {
	UserID    core.UserID
	SessionID string // the sign-in session (refresh token family)
	IssuedAt  time.Time
	ExpiresAt time.Time
	KeyID     string
}

// Tokens is what a successful sign-in or refresh returns.
type Tokens struct {
	User         User
	SessionID    string
	AccessToken  string
	ExpiresAt    time.Time     // when AccessToken expires
	ExpiresIn    time.Duration // ExpiresAt minus the time of issue
	RefreshToken string
}

// Purpose says what a one-time code is for.
type Purpose string

// The purposes of one-time codes.
const (
	PurposeSignIn Purpose = "signin"
	PurposeReset  Purpose = "reset"
)

// Service is the account and token service. All its methods are safe for
// concurrent use.
type Service struct {
	cfg    config.AuthConfig
	store  Store
	sender Sender
	clock  core.Clock
	log    *slog.Logger

	hasher    *hasher
	parser    *jwt.Parser
	keys      keyRing
	cache     *tokenCache
	revoked   *revokedSet
	ipLimit   *limiter // every attempt from one client IP
	acctLimit *limiter // sign-in attempts against one account
	sendLimit *limiter // code requests to one address

	onRevoke  atomic.Pointer[func(sid string, user core.UserID)]
	onProfile atomic.Pointer[func(User)]

	dummyMu   sync.Mutex
	dummyHash string

	sendSlots chan struct{} // bounds code deliveries in flight
	base      context.Context
	cancel    context.CancelFunc
	mu        sync.Mutex // guards closed and wg.Add
	closed    bool
	wg        sync.WaitGroup
	stop      chan struct{}
}

// New returns a Service that keeps its data in store and sends codes through
// sender. It loads the signing keys (making the first one if there is none)
// and the sessions revoked recently, and starts a background goroutine that
// reloads keys, makes the next key ahead of its use and prunes the store every
// 30 seconds; Close stops it. A nil clock means the system clock and a nil log
// discards logs.
func New(ctx context.Context, cfg config.AuthConfig, store Store, sender Sender, clock core.Clock, log *slog.Logger) (*Service, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	if store == nil || sender == nil {
		return nil, errs.E(errs.InvalidArgument, "auth: store and sender are required")
	}
	if clock == nil {
		clock = core.SystemClock{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		cfg:       cfg,
		store:     store,
		sender:    sender,
		clock:     clock,
		log:       log,
		hasher:    newHasher(runtime.GOMAXPROCS(0)),
		cache:     newTokenCache(DefaultCacheSize),
		revoked:   newRevokedSet(),
		ipLimit:   newLimiter(cfg.SignInPerIP, cfg.SignInWindow, 100_000),
		acctLimit: newLimiter(cfg.SignInPerAccount, cfg.SignInWindow, 100_000),
		sendLimit: newLimiter(cfg.SignInPerAccount, cfg.SignInWindow, 100_000),
		sendSlots: make(chan struct{}, 64),
		stop:      make(chan struct{}),
	}
	s.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(clock.Now),
	)
	now := s.now()
	if err := s.reloadKeys(ctx, now); err != nil {
		return nil, err
	}
	if _, err := s.signingKey(ctx, now); err != nil {
		return nil, err
	}
	sids, err := store.RevokedSince(ctx, now.Add(-cfg.AccessTTL-revokeMargin))
	if err != nil {
		return nil, wrap(err, "auth: load revoked sessions")
	}
	for _, sid := range sids {
		s.revoked.add(sid, now.Add(cfg.AccessTTL+revokeMargin), now)
	}
	s.base, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.wg.Add(1)
	go s.janitor()
	return s, nil
}

// wrap returns an error from the store as it is if it carries a code meant
// for clients (its message is theirs, "email is already taken"), and wraps
// any other error as Internal with msg, so that the HTTP layer logs it.
func wrap(err error, msg string) error {
	if errs.CodeOf(err) != errs.Internal {
		return err
	}
	return errs.Wrap(errs.Internal, err, msg)
}

func checkConfig(c config.AuthConfig) error {
	switch {
	case c.Issuer == "" || c.Audience == "":
		return errs.E(errs.InvalidArgument, "auth: issuer and audience are required")
	case c.AccessTTL <= 0 || c.RefreshTTL < c.AccessTTL:
		return errs.E(errs.InvalidArgument, "auth: access_ttl must be positive and refresh_ttl at least access_ttl")
	case c.KeyRotation <= 0 || c.CodeTTL <= 0 || c.SignInWindow <= 0:
		return errs.E(errs.InvalidArgument, "auth: key_rotation, code_ttl and signin_window must be positive")
	case c.CodeLength < 6 || c.CodeLength > 12:
		return errs.E(errs.InvalidArgument, "auth: code_length must be between 6 and 12")
	case c.SignInPerAccount < 1 || c.SignInPerIP < 1 || c.MinPasswordLength < 1:
		return errs.E(errs.InvalidArgument, "auth: signin limits and min_password_length must be at least 1")
	}
	return nil
}

// closeGrace is how long Close lets code deliveries in flight finish before
// it cancels them.
const closeGrace = 5 * time.Second

// Close stops the background goroutine and waits for code deliveries in
// flight, cancelling those still running after 5 seconds. The Service must
// not be used afterwards. Close is safe to call more than once.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.cancel()
		<-done
	}
	s.cancel()
	return nil
}

// SetOnRevoke sets the function called after a sign-in session is revoked on
// this node (logout, refresh token reuse, password reset). The wiring code
// uses it to tell the other nodes, which call MarkRevoked, and to close live
// connections of the session. fn runs synchronously on the revoking request
// and must not block for long. SetOnRevoke is safe to call at any time.
func (s *Service) SetOnRevoke(fn func(sid string, user core.UserID)) {
	if fn == nil {
		s.onRevoke.Store(nil)
		return
	}
	s.onRevoke.Store(&fn)
}

// SetOnProfileChange sets the function called with the updated user after
// a successful UpdateProfile (domains that copy profiles, like chat's member
// lists, follow changes with it). fn runs synchronously on the updating
// request and must not block for long. It is safe to call at any time.
func (s *Service) SetOnProfileChange(fn func(User)) {
	if fn == nil {
		s.onProfile.Store(nil)
		return
	}
	s.onProfile.Store(&fn)
}

// MarkRevoked makes Verify refuse access tokens of session sid with
// errs.Revoked from now until they would have expired. It is how a
// revocation made on another node reaches this one.
func (s *Service) MarkRevoked(sid string) {
	now := s.clock.Now()
	s.revoked.add(sid, now.Add(s.cfg.AccessTTL+revokeMargin), now)
}

// revokedSession records a revocation made on this node and calls the hook.
func (s *Service) revokedSession(sid string, user core.UserID) {
	s.MarkRevoked(sid)
	if fn := s.onRevoke.Load(); fn != nil {
		(*fn)(sid, user)
	}
}

// now returns the clock's time in UTC, rounded to the microsecond that the
// stores keep.
func (s *Service) now() time.Time {
	return s.clock.Now().UTC().Truncate(time.Microsecond)
}

// Maintain reloads the signing keys, makes the next key when the current one
// nears the end of its rotation period (so that every node knows it before it
// signs anything), forgets revoked sessions and rate-limit entries that no
// longer matter, and prunes expired codes, sessions and keys from the store.
// The Service calls it every 30 seconds; tests call it directly.
func (s *Service) Maintain(ctx context.Context) error {
	now := s.now()
	if err := s.reloadKeys(ctx, now); err != nil {
		return err
	}
	if err := s.prepareNextKey(ctx, now); err != nil {
		return err
	}
	s.revoked.sweep(s.clock.Now())
	s.ipLimit.sweep(s.clock.Now())
	s.acctLimit.sweep(s.clock.Now())
	s.sendLimit.sweep(s.clock.Now())
	if err := s.store.Prune(ctx, now.Add(-s.cfg.AccessTTL)); err != nil {
		return wrap(err, "auth: prune")
	}
	return nil
}

func (s *Service) janitor() {
	defer s.wg.Done()
	t := time.NewTicker(maintainEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(s.base, maintainEvery)
			if err := s.Maintain(ctx); err != nil && s.base.Err() == nil {
				s.log.Warn("auth maintenance failed", "err", err)
			}
			cancel()
		}
	}
}
