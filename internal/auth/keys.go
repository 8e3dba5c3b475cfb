package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// keyRing is this node's copy of the signing keys that are still published.
// Readers take mu for reading; reloads and key creation are serialised by
// reloadMu, which is never held by the common paths (signing with a fresh
// key, verifying with a known kid).
type keyRing struct {
	mu       sync.RWMutex
	keys     []*ringKey // published keys, by Seq ascending
	maxSeq   int64      // the highest Seq stored, retired keys included
	loadedAt time.Time

	reloadMu sync.Mutex
}

type ringKey struct {
	SigningKey
	pub ed25519.PublicKey
}

// active returns the newest key that may sign at now, or nil.
func (r *keyRing) active(now time.Time) *ringKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for i := len(r.keys) - 1; i >= 0; i-- {
		k := r.keys[i]
		if !k.CreatedAt.After(now) && now.Before(k.NotAfter) {
			return k
		}
	}
	return nil
}

func (r *keyRing) byID(kid string) *ringKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, k := range r.keys {
		if k.ID == kid {
			return k
		}
	}
	return nil
}

func (r *keyRing) newest() *ringKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.keys) == 0 {
		return nil
	}
	return r.keys[len(r.keys)-1]
}

// reloadKeys replaces the ring with the keys in the store.
func (s *Service) reloadKeys(ctx context.Context, now time.Time) error {
	s.keys.reloadMu.Lock()
	defer s.keys.reloadMu.Unlock()
	return s.reloadKeysLocked(ctx, now)
}

func (s *Service) reloadKeysLocked(ctx context.Context, now time.Time) error {
	stored, err := s.store.SigningKeys(ctx)
	if err != nil {
		return wrap(err, "auth: load signing keys")
	}
	var keys []*ringKey
	var maxSeq int64
	for _, k := range stored {
		maxSeq = max(maxSeq, k.Seq)
		if !now.Before(k.NotAfter) {
			continue
		}
		if len(k.Private) != ed25519.PrivateKeySize {
			return errs.E(errs.Internal, "auth: signing key %s is damaged", k.ID)
		}
		keys = append(keys, &ringKey{SigningKey: k, pub: k.Private.Public().(ed25519.PublicKey)})
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Seq < keys[j].Seq })
	s.keys.mu.Lock()
	s.keys.keys, s.keys.maxSeq, s.keys.loadedAt = keys, maxSeq, s.clock.Now()
	s.keys.mu.Unlock()
	return nil
}

// fresh reports whether k is still within its rotation period at now.
func (s *Service) fresh(k *ringKey, now time.Time) bool {
	return k != nil && now.Before(k.CreatedAt.Add(s.cfg.KeyRotation))
}

// signingKey returns the key to sign with at now, rotating if the newest key
// has served its period. If rotation fails (the store is down) it keeps
// signing with the old key while that key is published; tokens are then cut
// short to its NotAfter.
func (s *Service) signingKey(ctx context.Context, now time.Time) (*ringKey, error) {
	if k := s.keys.active(now); s.fresh(k, now) {
		return k, nil
	}
	s.keys.reloadMu.Lock()
	defer s.keys.reloadMu.Unlock()
	if k := s.keys.active(now); s.fresh(k, now) {
		return k, nil // another request rotated meanwhile
	}
	err := s.reloadKeysLocked(ctx, now)
	if err == nil {
		if k := s.keys.active(now); s.fresh(k, now) {
			return k, nil // another node rotated
		}
		err = s.addKeyLocked(ctx, now, now)
	}
	k := s.keys.active(now)
	if err != nil {
		if k != nil && now.Add(time.Second).Before(k.NotAfter) {
			s.log.Error("auth: signing key rotation failed; signing with the previous key", "kid", k.ID, "err", err)
			return k, nil
		}
		return nil, err
	}
	if k == nil {
		return nil, errs.E(errs.Unavailable, "auth: no signing key")
	}
	return k, nil
}

// prepareNextKey makes the next key before the current one's period ends,
// with CreatedAt at that end, so that other nodes load it (within their
// maintenance period) before any token is signed with it.
func (s *Service) prepareNextKey(ctx context.Context, now time.Time) error {
	s.keys.reloadMu.Lock()
	defer s.keys.reloadMu.Unlock()
	newest := s.keys.newest()
	if newest == nil {
		return s.addKeyLocked(ctx, now, now)
	}
	if newest.CreatedAt.After(now) {
		return nil // the next key is already waiting
	}
	lead := min(s.cfg.KeyRotation/2, 5*time.Minute)
	due := newest.CreatedAt.Add(s.cfg.KeyRotation)
	if now.Before(due.Add(-lead)) {
		return nil
	}
	if due.Before(now) {
		due = now
	}
	return s.addKeyLocked(ctx, due, now)
}

// addKeyLocked stores a new key that signs from createdAt. When another node
// stored the same Seq first, it loads that node's key instead.
func (s *Service) addKeyLocked(ctx context.Context, createdAt, now time.Time) error {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return errs.Wrap(errs.Internal, err, "auth: generate signing key")
	}
	s.keys.mu.RLock()
	seq := s.keys.maxSeq + 1
	s.keys.mu.RUnlock()
	k := SigningKey{
		ID:        core.NewID("k"),
		Seq:       seq,
		Private:   priv,
		CreatedAt: createdAt,
		NotAfter:  createdAt.Add(s.cfg.KeyRotation + s.cfg.AccessTTL),
	}
	err = s.store.AddSigningKey(ctx, k)
	switch {
	case errs.Is(err, errs.AlreadyExists):
		s.log.Debug("auth: another node made signing key first", "seq", seq)
	case err != nil:
		return wrap(err, "auth: store signing key")
	default:
		s.log.Info("auth: new signing key", "kid", k.ID, "seq", seq, "signs_from", createdAt)
	}
	return s.reloadKeysLocked(ctx, now)
}

var errUnknownKey = errors.New("unknown or retired signing key")

// publicKey returns the public key kid. A kid this node does not know makes it
// reload the keys, at most once per minKeyReload, since another node may have
// made it.
func (s *Service) publicKey(kid string, now time.Time) (ed25519.PublicKey, error) {
	if k := s.keys.byID(kid); k != nil {
		return k.pub, nil
	}
	s.keys.reloadMu.Lock()
	defer s.keys.reloadMu.Unlock()
	if k := s.keys.byID(kid); k != nil {
		return k.pub, nil
	}
	s.keys.mu.RLock()
	recent := now.Sub(s.keys.loadedAt) < minKeyReload
	s.keys.mu.RUnlock()
	if recent {
		return nil, errUnknownKey
	}
	ctx, cancel := context.WithTimeout(s.base, 5*time.Second)
	defer cancel()
	if err := s.reloadKeysLocked(ctx, now.UTC().Truncate(time.Microsecond)); err != nil {
		s.log.Warn("auth: reload signing keys failed", "err", err)
		return nil, errUnknownKey
	}
	if k := s.keys.byID(kid); k != nil {
		return k.pub, nil
	}
	return nil, errUnknownKey
}

// JWK is one public key of a JWK Set (RFC 7517, RFC 8037).
type JWK struct {
	Kty string `json:"kty"` // "OKP"
	Crv string `json:"crv"` // "Ed25519"
	X   string `json:"x"`   // the public key, base64url without padding
	Kid string `json:"kid"`
	Alg string `json:"alg"` // "EdDSA"
	Use string `json:"use"` // "sig"
}

// JWKSet is the document served at /.well-known/jwks.json.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// JWKS returns the public keys that verify access tokens: the key signing
// now, the next key if it was made already, and previous keys until every
// token they signed has expired. It reads memory only; the keys are reloaded
// every 30 seconds.
func (s *Service) JWKS() JWKSet {
	now := s.clock.Now()
	s.keys.mu.RLock()
	defer s.keys.mu.RUnlock()
	set := JWKSet{Keys: []JWK{}}
	for _, k := range s.keys.keys {
		if !now.Before(k.NotAfter) {
			continue
		}
		set.Keys = append(set.Keys, JWK{
			Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.pub),
			Kid: k.ID, Alg: "EdDSA", Use: "sig",
		})
	}
	return set
}
