package app

import (
	"strings"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/gateway"
)

// tokenVerifier checks the access tokens of the gateway and the HTTP API:
// tokens with a prefix a domain registered (chat's bot tokens) go to that
// domain's verifier, every other token to the auth service.
type tokenVerifier struct{ m *Main }

var _ gateway.Verifier = tokenVerifier{}

// prefixVerifier verifies the tokens that start with prefix.
type prefixVerifier struct {
	prefix string
	verify func(token string) (auth.Claims, error)
}

// Verify implements gateway.Verifier.
func (v tokenVerifier) Verify(token string) (auth.Claims, error) {
	for _, pv := range v.m.verifiers {
		if strings.HasPrefix(token, pv.prefix) {
			return pv.verify(token)
		}
	}
	return v.m.auth.Verify(token)
}

// addVerifier makes tokens starting with prefix verified by fn. It must be
// called before the gateway starts.
func (m *Main) addVerifier(prefix string, fn func(token string) (auth.Claims, error)) {
	m.verifiers = append(m.verifiers, prefixVerifier{prefix: prefix, verify: fn})
}
