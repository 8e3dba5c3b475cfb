package app

import (
	"context"
	"net/http"
)

// startMedia wires the media domain: its stores, actors, stream kinds and
// protocol methods.
func (m *Main) startMedia(ctx context.Context) error { return nil }

// mediaRoutes registers the media domain's HTTP endpoints.
func (m *Main) mediaRoutes(mux *http.ServeMux) {}
