package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/parleyhq/parley/internal/errs"
)

// Argon2id parameters of new password hashes (OWASP's first recommended
// set: 19 MiB of memory, two passes, one lane). Stored hashes carry their
// own parameters, so these can be raised without invalidating old hashes.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32

	// maxPasswordBytes bounds the input to the hash.
	maxPasswordBytes = 1024
)

var b64 = base64.RawStdEncoding

// hasher computes Argon2id hashes, at most cap(sem) at a time: each hash
// takes 19 MiB, so unbounded concurrency under a sign-up storm would exhaust
// memory. It is safe for concurrent use.
type hasher struct {
	sem chan struct{}
}

func newHasher(n int) *hasher {
	if n < 1 {
		n = 1
	}
	return &hasher{sem: make(chan struct{}, n)}
}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return errs.Wrap(errs.Unavailable, ctx.Err(), "password hashing is busy")
	}
}

func (h *hasher) release() { <-h.sem }

// hash returns the PHC string of a new Argon2id hash of password:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	h.release()
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// verify reports whether password matches the PHC string encoded, comparing
// in constant time.
func (h *hasher) verify(ctx context.Context, password, encoded string) (bool, error) {
	p, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	h.release()
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

type phc struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// parsePHC parses an Argon2id PHC string and bounds its parameters, so that a
// damaged row cannot make a sign-in allocate gigabytes.
func parsePHC(s string) (phc, error) {
	bad := func(why string) (phc, error) {
		return phc{}, errs.E(errs.Internal, "auth: stored password hash: %s", why)
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return bad("not an argon2id PHC string")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return bad("unsupported version")
	}
	var p phc
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil || n != 3 {
		return bad("bad parameters")
	}
	if p.memory < 8*uint32(p.threads) || p.memory > 256*1024 || p.time < 1 || p.time > 16 || p.threads < 1 || p.threads > 16 {
		return bad("parameters out of range")
	}
	var err error
	if p.salt, err = b64.DecodeString(parts[4]); err != nil || len(p.salt) < 8 || len(p.salt) > 64 {
		return bad("bad salt")
	}
	if p.key, err = b64.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > 64 {
		return bad("bad key")
	}
	return p, nil
}
