package app

import (
	"context"
	"net/http"
)

// startChat wires the chat domain: its stores, actors, stream kinds and
// protocol methods.
func (m *Main) startChat(ctx context.Context) error { return nil }

// chatRoutes registers the chat domain's HTTP endpoints.
func (m *Main) chatRoutes(mux *http.ServeMux) {}
