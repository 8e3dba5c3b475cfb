package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/chat/chattest"
)

func openChatStore(t testing.TB) *ChatStore {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), AppFile), "app")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return NewChatStore(db)
}

func TestChatStoreContract(t *testing.T) {
	chattest.Run(t, func(t *testing.T) chat.Store { return openChatStore(t) })
}

// TestChatFullTextIndexIntegrity runs the contract scenario that edits and
// deletes messages, then asks FTS5 to check its index against the messages
// table.
func TestChatFullTextIndexIntegrity(t *testing.T) {
	st := openChatStore(t)
	s := chattest.NewScript(t)
	gen := s.Workspace("w1", "ann", "bob")
	id, _ := s.Post(gen, "ann", chat.MessagePosted{Text: "one two three"})
	s.Do(gen.Stream(), chat.CmdEdit, "ann", chat.EditMessage{MessageEdited: chat.MessageEdited{ID: id, Text: "four five"}})
	id2, _ := s.Post(gen, "bob", chat.MessagePosted{Text: "six seven"})
	s.Do(gen.Stream(), chat.CmdDelete, "bob", chat.MessageRef{ID: id2})
	chattest.Apply(t, st, s.All())
	if _, err := st.db.W.Exec(`INSERT INTO chat_fts (chat_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Fatalf("FTS index does not match the messages: %v", err)
	}
}

func TestChatStoreShared(t *testing.T) {
	chattest.RunShared(t, func(t *testing.T) (chat.Store, chat.Store) {
		path := filepath.Join(t.TempDir(), AppFile)
		var out [2]chat.Store
		for i := range out {
			db, err := Open(context.Background(), path, "app")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			out[i] = NewChatStore(db)
		}
		return out[0], out[1]
	})
}
