package chat

import (
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/parleyhq/parley/internal/core"
)

// acEntry is one key of the autocomplete index.
type acEntry struct {
	key  string
	user core.UserID
}

func (a acEntry) less(b acEntry) bool {
	if a.key != b.key {
		return a.key < b.key
	}
	return a.user < b.user
}

// mergeAt is the size of the unsorted-insert buffer at which it is merged
// into the main array.
const mergeAt = 1024

// prefixIndex maps lower-cased keys (handles, display names and the words
// of display names) to users, for @mention autocomplete. It is a sorted
// array plus a small sorted buffer of recent inserts, merged into the array
// when it reaches mergeAt entries, and a set of removed entries purged at
// the same time: a lookup is two binary searches and a merge of two runs,
// and an insert moves at most mergeAt entries, amortised. It is not safe
// for concurrent use; View guards it.
type prefixIndex struct {
	main  []acEntry
	delta []acEntry
	gone  map[acEntry]bool
	keys  map[core.UserID][]string
}

func newPrefixIndex() *prefixIndex {
	return &prefixIndex{gone: map[acEntry]bool{}, keys: map[core.UserID][]string{}}
}

// profileKeys returns the keys a profile is found by.
func profileKeys(p Profile) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		s = strings.ToLower(strings.TrimSpace(s))
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	add(p.Handle)
	name := strings.ToLower(p.DisplayName)
	add(name)
	for _, w := range strings.FieldsFunc(name, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		add(w)
	}
	return out
}

// set replaces the keys of user.
func (x *prefixIndex) set(user core.UserID, keys []string) {
	x.remove(user)
	x.keys[user] = keys
	for _, k := range keys {
		e := acEntry{k, user}
		if x.gone[e] {
			delete(x.gone, e)
			continue // still present in main or delta
		}
		i := sort.Search(len(x.delta), func(i int) bool { return !x.delta[i].less(e) })
		x.delta = append(x.delta, acEntry{})
		copy(x.delta[i+1:], x.delta[i:])
		x.delta[i] = e
	}
	x.maybeMerge()
}

// remove drops every key of user.
func (x *prefixIndex) remove(user core.UserID) {
	for _, k := range x.keys[user] {
		x.gone[acEntry{k, user}] = true
	}
	delete(x.keys, user)
	x.maybeMerge()
}

func (x *prefixIndex) maybeMerge() {
	if len(x.delta) < mergeAt && len(x.gone) < mergeAt {
		return
	}
	out := make([]acEntry, 0, len(x.main)+len(x.delta))
	i, j := 0, 0
	for i < len(x.main) || j < len(x.delta) {
		var e acEntry
		if j >= len(x.delta) || (i < len(x.main) && x.main[i].less(x.delta[j])) {
			e = x.main[i]
			i++
		} else {
			e = x.delta[j]
			j++
		}
		if !x.gone[e] {
			out = append(out, e)
		}
	}
	x.main, x.delta = out, nil
	clear(x.gone)
}

// search returns up to limit distinct users with a key starting with
// prefix (lower-cased), in key order, skipping those skip rejects.
func (x *prefixIndex) search(prefix string, limit int, skip func(core.UserID) bool) []core.UserID {
	prefix = strings.ToLower(prefix)
	start := acEntry{key: prefix}
	i := sort.Search(len(x.main), func(i int) bool { return !x.main[i].less(start) })
	j := sort.Search(len(x.delta), func(j int) bool { return !x.delta[j].less(start) })
	out := make([]core.UserID, 0, limit)
	for len(out) < limit {
		var e acEntry
		switch {
		case i < len(x.main) && (j >= len(x.delta) || x.main[i].less(x.delta[j])):
			e = x.main[i]
			i++
		case j < len(x.delta):
			e = x.delta[j]
			j++
		default:
			return out
		}
		if !strings.HasPrefix(e.key, prefix) {
			return out
		}
		if (len(x.gone) > 0 && x.gone[e]) || slices.Contains(out, e.user) || (skip != nil && skip(e.user)) {
			continue
		}
		out = append(out, e.user)
	}
	return out
}

// size returns the number of live keys.
func (x *prefixIndex) size() int { return len(x.main) + len(x.delta) - len(x.gone) }
