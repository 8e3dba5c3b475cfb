package auth

import (
	"net/mail"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/internal/errs"
)

// Limits of account fields.
const (
	MinHandleLen      = 2
	MaxHandleLen      = 32
	MaxDisplayNameLen = 64 // characters
	maxEmailLen       = 254
	maxAvatarURLLen   = 2048
)

// NormalizeEmail trims and lower-cases an email address and checks that it is
// a bare address (user@domain, no display name).
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", errs.E(errs.InvalidArgument, "email is required")
	}
	if len(s) > maxEmailLen {
		return "", errs.E(errs.InvalidArgument, "email is longer than %d bytes", maxEmailLen)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", errs.E(errs.InvalidArgument, "email is not a valid address")
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", errs.E(errs.InvalidArgument, "email is not a valid address")
	}
	return s, nil
}

// NormalizePhone removes spaces, dashes, dots and parentheses from a phone
// number and checks that the rest is an E.164 number: "+", a non-zero digit,
// and at most 14 more digits.
func NormalizePhone(s string) (string, error) {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch r {
		case ' ', '-', '.', '(', ')':
			continue
		}
		b.WriteRune(r)
	}
	p := b.String()
	if len(p) < 3 || len(p) > 16 || p[0] != '+' || p[1] < '1' || p[1] > '9' {
		return "", errs.E(errs.InvalidArgument, "phone must be an E.164 number like +14155550123")
	}
	for i := 2; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return "", errs.E(errs.InvalidArgument, "phone must be an E.164 number like +14155550123")
		}
	}
	return p, nil
}

// NormalizeHandle lower-cases a handle and checks that it has 2 to 32
// characters of [a-z0-9_.-].
func NormalizeHandle(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) < MinHandleLen || len(s) > MaxHandleLen {
		return "", errs.E(errs.InvalidArgument, "handle must have %d to %d characters", MinHandleLen, MaxHandleLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return "", errs.E(errs.InvalidArgument, "handle may only use a-z, 0-9, '_', '.' and '-'")
		}
	}
	return s, nil
}

// NormalizeDisplayName trims a display name and checks that it has 1 to 64
// characters, none of them control characters.
func NormalizeDisplayName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", errs.E(errs.InvalidArgument, "display name is not valid UTF-8")
	}
	n := utf8.RuneCountInString(s)
	if n < 1 || n > MaxDisplayNameLen {
		return "", errs.E(errs.InvalidArgument, "display name must have 1 to %d characters", MaxDisplayNameLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", errs.E(errs.InvalidArgument, "display name must not contain control characters")
		}
	}
	return s, nil
}

// NormalizeAvatarURL trims an avatar URL and checks that it is empty or an
// absolute http(s) URL.
func NormalizeAvatarURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) > maxAvatarURLLen {
		return "", errs.E(errs.InvalidArgument, "avatar URL is longer than %d bytes", maxAvatarURLLen)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", errs.E(errs.InvalidArgument, "avatar URL must be an http or https URL")
	}
	return s, nil
}

// checkPassword checks the length of a new password.
func (s *Service) checkPassword(pw string) error {
	if !utf8.ValidString(pw) {
		return errs.E(errs.InvalidArgument, "password is not valid UTF-8")
	}
	if utf8.RuneCountInString(pw) < s.cfg.MinPasswordLength {
		return errs.E(errs.InvalidArgument, "password must have at least %d characters", s.cfg.MinPasswordLength)
	}
	if len(pw) > maxPasswordBytes {
		return errs.E(errs.InvalidArgument, "password must be at most %d bytes", maxPasswordBytes)
	}
	return nil
}
