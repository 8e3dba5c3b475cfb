package chat

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/internal/errs"
)

// SearchQuery is a parsed search: words and quoted phrases that must all
// match, and the filters in:#channel, from:@user, before:DATE and
// after:DATE (a date or an RFC 3339 time; before is exclusive, after
// inclusive of the whole day given as a date).
type SearchQuery struct {
	Terms   []string
	Phrases [][]string
	In      string // a channel name, without '#'
	From    string // a handle, without '@'
	Before  time.Time
	After   time.Time
}

// Bounds of a search query.
const (
	MaxSearchQuery = 512
	maxSearchWords = 32
)

// ParseSearch parses q. Words are runs of letters and digits (other
// characters separate them, as the full-text indexes tokenize), lower-cased.
func ParseSearch(q string) (SearchQuery, error) {
	var s SearchQuery
	if len(q) > MaxSearchQuery || !utf8.ValidString(q) {
		return s, errs.E(errs.InvalidArgument, "a search query has at most %d bytes of UTF-8", MaxSearchQuery)
	}
	words := 0
	rest := q
	for rest != "" {
		rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
		if rest == "" {
			break
		}
		if rest[0] == '"' {
			end := strings.IndexByte(rest[1:], '"')
			var phrase string
			if end < 0 {
				phrase, rest = rest[1:], ""
			} else {
				phrase, rest = rest[1:1+end], rest[2+end:]
			}
			ws := tokenize(phrase)
			words += len(ws)
			switch len(ws) {
			case 0:
			case 1:
				s.Terms = append(s.Terms, ws[0])
			default:
				s.Phrases = append(s.Phrases, ws)
			}
			continue
		}
		tok := rest
		if i := strings.IndexFunc(rest, unicode.IsSpace); i >= 0 {
			tok, rest = rest[:i], rest[i:]
		} else {
			rest = ""
		}
		key, val, ok := strings.Cut(tok, ":")
		if ok && val != "" {
			var err error
			switch strings.ToLower(key) {
			case "in":
				s.In = strings.ToLower(strings.TrimPrefix(val, "#"))
				continue
			case "from":
				s.From = strings.ToLower(strings.TrimPrefix(val, "@"))
				continue
			case "before":
				if s.Before, err = parseDate(val, false); err != nil {
					return s, err
				}
				continue
			case "after":
				if s.After, err = parseDate(val, true); err != nil {
					return s, err
				}
				continue
			}
		}
		ws := tokenize(tok)
		words += len(ws)
		s.Terms = append(s.Terms, ws...)
	}
	if words > maxSearchWords {
		return s, errs.E(errs.InvalidArgument, "a search query has at most %d words", maxSearchWords)
	}
	if len(s.Terms) == 0 && len(s.Phrases) == 0 && s.From == "" && s.In == "" {
		return s, errs.E(errs.InvalidArgument, "search for at least one word, or filter with in: or from:")
	}
	return s, nil
}

// tokenize splits s into lower-cased runs of letters and digits.
func tokenize(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// parseDate reads a date (YYYY-MM-DD, UTC) or an RFC 3339 time. For after:
// a date means from its start; for before: a date means before its start.
func parseDate(s string, after bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	which := "before"
	if after {
		which = "after"
	}
	return time.Time{}, errs.E(errs.InvalidArgument, "%s: wants a date like 2026-01-31 or an RFC 3339 time", which)
}
