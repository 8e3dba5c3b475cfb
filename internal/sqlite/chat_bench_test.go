package sqlite

import (
	"testing"

	"github.com/parleyhq/parley/internal/chat/chattest"
)

// See chattest/bench.go for the commands.

func BenchmarkChatProject(b *testing.B) { chattest.BenchProject(b, openChatStore(b)) }

func BenchmarkChatSearch(b *testing.B) { chattest.BenchSearch(b, openChatStore(b)) }
