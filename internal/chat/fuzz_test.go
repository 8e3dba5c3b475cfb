package chat

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Fuzz tests of every parser of client input in the chat domain. Their
// seeds run with every `go test`; fuzz them with
//
//	go test -run '^$' -fuzz FuzzParseSearch -fuzztime 60s ./internal/chat/
//	go test -run '^$' -fuzz FuzzParseCursor -fuzztime 60s ./internal/chat/
//	go test -run '^$' -fuzz FuzzParseMentions -fuzztime 60s ./internal/chat/

func FuzzParseSearch(f *testing.F) {
	for _, s := range []string{"deploy", `"release notes" in:#ops from:@ann`, "before:2030-01-01 after:2029-01-01T00:00:00Z x",
		"in: from: before:", `"unterminated`, "é😀 日本語", strings.Repeat("a ", 40), "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		s, err := ParseSearch(q)
		if err != nil {
			return
		}
		for _, w := range append(s.Terms, flatten(s.Phrases)...) {
			if w == "" || strings.ContainsAny(w, " \"*:()") || !utf8.ValidString(w) {
				t.Fatalf("unsafe word %q from %q", w, q)
			}
		}
	})
}

func flatten(p [][]string) []string {
	var out []string
	for _, x := range p {
		out = append(out, x...)
	}
	return out
}

func FuzzParseCursor(f *testing.F) {
	f.Add(Cursor{Channels: map[ChannelID]Marker{"c1": {Seq: 9, Top: 2}}, Workspaces: map[WorkspaceID]uint64{"w1": 3}}.Encode())
	f.Add("")
	f.Add("AQ")
	f.Add("!!!")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor(s)
		if err != nil {
			return
		}
		again, err := ParseCursor(c.Encode())
		if err != nil || len(again.Channels) != len(c.Channels) || len(again.Workspaces) != len(c.Workspaces) {
			t.Fatalf("re-encoding %q: %v", s, err)
		}
	})
}

func FuzzParseMentions(f *testing.F) {
	for _, s := range []string{"hi @ann", "@here @channel @everyone", "a@b.com", "@@x", "@a.-", "@日本", "@" + strings.Repeat("x", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := ParseMentions(s)
		for _, h := range m.Handles {
			if len(h) < 2 || len(h) > 32 || h != strings.ToLower(h) {
				t.Fatalf("bad handle %q from %q", h, s)
			}
		}
	})
}
