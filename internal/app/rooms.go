package app

import (
	"context"
	"net/http"
)

// startRooms wires the rooms domain: its stores, actors, stream kinds and
// protocol methods.
func (m *Main) startRooms(ctx context.Context) error { return nil }

// roomsRoutes registers the rooms domain's HTTP endpoints.
func (m *Main) roomsRoutes(mux *http.ServeMux) {}
