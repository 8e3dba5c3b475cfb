package chat

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// Bounds of names and texts that are not configurable.
const (
	MaxWorkspaceName = 64
	MaxChannelName   = 80
	MaxTopic         = 250
	MaxEmoji         = 64
)

// NormalizeChannelName lower-cases a channel name and checks it: 1-80
// characters of a-z, 0-9, '-', '_' and '.', as in Slack.
func NormalizeChannelName(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "#")))
	if s == "" || len(s) > MaxChannelName {
		return "", errs.E(errs.InvalidArgument, "a channel name has 1-%d characters", MaxChannelName)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "", errs.E(errs.InvalidArgument, "a channel name uses only a-z, 0-9, '-', '_' and '.'")
		}
	}
	return s, nil
}

// NameKey is the key under which a channel name is reserved in its
// workspace: the name itself for a public channel, a hash of it for a
// private one.
func NameKey(ws WorkspaceID, name string, private bool) string {
	if !private {
		return name
	}
	h := sha256.Sum256([]byte(string(ws) + "\x00" + name))
	return "h:" + hex.EncodeToString(h[:16])
}

// CheckWorkspaceName trims and checks a workspace name.
func CheckWorkspaceName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || utf8.RuneCountInString(s) > MaxWorkspaceName || !printable(s) {
		return "", errs.E(errs.InvalidArgument, "a workspace name has 1-%d printable characters", MaxWorkspaceName)
	}
	return s, nil
}

// CheckTopic checks a topic or a purpose.
func CheckTopic(what, s string) (string, error) {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > MaxTopic || !printable(s) {
		return "", errs.E(errs.InvalidArgument, "a %s has at most %d printable characters", what, MaxTopic)
	}
	return s, nil
}

// CheckText checks a message's text against the length limit. The text is
// kept as written (trailing spaces included) but must be valid UTF-8
// without NUL bytes and not only whitespace, unless empty is allowed (a
// message with attachments).
func CheckText(text string, maxChars int, allowEmpty bool) error {
	if !utf8.ValidString(text) || strings.IndexByte(text, 0) >= 0 {
		return errs.E(errs.InvalidArgument, "message text must be valid UTF-8 without NUL characters")
	}
	if strings.TrimSpace(text) == "" && !allowEmpty {
		return errs.E(errs.InvalidArgument, "message text is empty")
	}
	if n := utf8.RuneCountInString(text); n > maxChars {
		return errs.E(errs.LimitExceeded, "message text has %d characters; the limit is %d", n, maxChars)
	}
	return nil
}

// CheckEmoji checks a reaction: a short name such as "thumbsup" or
// "+1" (colons are removed), or an emoji character sequence, at most 64
// bytes without spaces.
func CheckEmoji(s string) (string, error) {
	s = strings.Trim(strings.TrimSpace(s), ":")
	if s == "" || len(s) > MaxEmoji || !utf8.ValidString(s) {
		return "", errs.E(errs.InvalidArgument, "an emoji is a name or a character sequence of 1-%d bytes", MaxEmoji)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == ':' {
			return "", errs.E(errs.InvalidArgument, "an emoji has no spaces, colons or control characters")
		}
	}
	return strings.ToLower(s), nil
}

func printable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// Mentions is what a message's text mentions.
type Mentions struct {
	Handles []string // lower-cased, without '@', each once, in order of appearance
	Channel bool     // @channel or @everyone
	Here    bool     // @here
}

// ParseMentions finds @handle, @channel, @everyone and @here in text. A
// mention starts at the beginning of the text or after a character that is
// not a letter, a digit or one of "_.-@" (so that e-mail addresses are not
// mentions), and its handle is 2-32 characters of a-z, 0-9, '_', '.' and
// '-', without a trailing '.' or '-'.
func ParseMentions(text string) Mentions {
	var m Mentions
	seen := map[string]bool{}
	for i := 0; i < len(text); i++ {
		if text[i] != '@' {
			continue
		}
		if i > 0 {
			prev, _ := utf8.DecodeLastRuneInString(text[:i])
			if unicode.IsLetter(prev) || unicode.IsDigit(prev) || strings.ContainsRune("_.-@", prev) {
				continue
			}
		}
		j := i + 1
		for j < len(text) && j-i-1 < 33 && handleByte(text[j]) {
			j++
		}
		h := strings.ToLower(strings.TrimRight(text[i+1:j], ".-"))
		if len(h) < 2 || len(h) > 32 {
			continue
		}
		switch h {
		case "channel", "everyone":
			m.Channel = true
		case "here":
			m.Here = true
		default:
			if !seen[h] {
				seen[h] = true
				m.Handles = append(m.Handles, h)
			}
		}
		i = j - 1
	}
	return m
}

func handleByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// sortedUsers returns a sorted copy of users without duplicates.
func sortedUsers(users []core.UserID) []core.UserID {
	out := append([]core.UserID(nil), users...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	w := 0
	for i, u := range out {
		if i == 0 || u != out[i-1] {
			out[w] = u
			w++
		}
	}
	return out[:w]
}

// SortedUsers returns a sorted copy of users without duplicates.
func SortedUsers(users []core.UserID) []core.UserID { return sortedUsers(users) }
