package config

import (
	"errors"
	"testing"
	"time"
)

func TestRoomsLimits(t *testing.T) {
	cfg, err := load(t, []string{"--rooms-reactions", "👍,🎉", "--rooms-host-grace", "45s"}, []string{"PARLEY_ROOMS_MAX_STAGE=12"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Rooms.Reactions) != 2 || cfg.Rooms.Reactions[1] != "🎉" || cfg.Rooms.HostGrace != 45*time.Second || cfg.Rooms.MaxStage != 12 {
		t.Fatalf("rooms: %+v", cfg.Rooms)
	}
	bad := map[string]func(*RoomsConfig){
		"rooms.tick":             func(c *RoomsConfig) { c.Tick = time.Millisecond },
		"rooms.max_poll_options": func(c *RoomsConfig) { c.MaxPollOptions = 7 },
		"rooms.reactions":        func(c *RoomsConfig) { c.Reactions = nil },
		"rooms.analytics_sink":   func(c *RoomsConfig) { c.AnalyticsSink = "s3" },
		"rooms.comment_rate":     func(c *RoomsConfig) { c.CommentRate = 0 },
		"rooms.max_stage":        func(c *RoomsConfig) { c.MaxStage = 0 },
		"rooms.hot_state_ttl":    func(c *RoomsConfig) { c.HotStateTTL = time.Second },
	}
	for key, edit := range bad {
		c := Default()
		edit(&c.Rooms)
		var e *Error
		if err := c.Validate(); !errors.As(err, &e) || e.Key != key {
			t.Errorf("%s: got %v", key, err)
		}
	}
}
