package config

import (
	"time"
	"unicode/utf8"
)

// RoomsConfig configures the rooms domain: the rules' limits, the tick
// cadences, retention, and the background workers.
type RoomsConfig struct {
	Enabled bool `json:"enabled" help:"serve the rooms features"`

	Tick               time.Duration `json:"tick" help:"how often a live room's actor wakes for timed work"`
	MembershipInterval time.Duration `json:"membership_interval" help:"joins and leaves are logged together at most this often (one event per batch)"`
	ReactionInterval   time.Duration `json:"reaction_interval" help:"reactions are counted and their totals logged and broadcast this often"`
	TallyInterval      time.Duration `json:"tally_interval" help:"poll votes are logged and their tallies broadcast at most this often"`
	CountsInterval     time.Duration `json:"counts_interval" help:"participant counts are pushed at most this often"`
	ReconnectGrace     time.Duration `json:"reconnect_grace" help:"a participant whose connections all dropped stays in the room this long, to resume"`
	HostGrace          time.Duration `json:"host_grace" help:"a live room without its host and without moderators ends after this long"`
	HotStateTTL        time.Duration `json:"hot_state_ttl" help:"a room's hot state expires this long after it started (or after its scheduled start), ending the room if still live"`
	MaxScheduleAhead   time.Duration `json:"max_schedule_ahead" help:"latest start time of a scheduled room, from now"`

	MaxTitle        int `json:"max_title" help:"longest room title, in characters"`
	MaxDescription  int `json:"max_description" help:"longest room description, in characters"`
	MaxTopics       int `json:"max_topics" help:"most topics per room"`
	MaxParticipants int `json:"max_participants" help:"most participants in one room"`
	MaxStage        int `json:"max_stage" help:"most people on a room's stage (host, moderators and speakers)"`
	MaxGuests       int `json:"max_guests" help:"most users invited in one room.guests request"`

	MaxComment     int           `json:"max_comment" help:"longest comment, in bytes"`
	CommentRate    float64       `json:"comment_rate" help:"comments per second one user may post in a room (token bucket refill)"`
	CommentBurst   int           `json:"comment_burst" help:"comments one user may post at once"`
	MaxSlowMode    time.Duration `json:"max_slow_mode" help:"longest slow mode a moderator may set"`
	RecentComments int           `json:"recent_comments" help:"comments a late joiner gets in the room snapshot"`
	Reactions      []string      `json:"reactions" help:"comma-separated emoji a room accepts as reactions"`
	ReactionRate   float64       `json:"reaction_rate" help:"reactions per second one user may send (token bucket refill)"`
	ReactionBurst  int           `json:"reaction_burst" help:"reactions one user may send at once"`

	MaxPollOptions  int           `json:"max_poll_options" help:"most options of a poll (2 to 6)"`
	MaxPollDuration time.Duration `json:"max_poll_duration" help:"longest duration of a timed poll"`
	MaxOpenPolls    int           `json:"max_open_polls" help:"most polls open at once in a room"`

	HotSnapshotInterval  time.Duration `json:"hot_snapshot_interval" help:"a live room's snapshot in the bus KV is rewritten at most this often"`
	SweepInterval        time.Duration `json:"sweep_interval" help:"how often a node looks for rooms past their expiry and ended rooms without analytics"`
	AnalyticsSink        string        `json:"analytics_sink" help:"where ended rooms' analytics go: auto (postgres with database.url, else parquet), parquet, postgres or off"`
	AnalyticsDir         string        `json:"analytics_dir" help:"directory of the Parquet analytics files; empty is data_dir/analytics"`
	AnalyticsAckWait     time.Duration `json:"analytics_ack_wait" help:"time an analytics worker has for one room before the job is redelivered"`
	AnalyticsConcurrency int           `json:"analytics_concurrency" help:"analytics jobs one node runs at once"`
	HomeConcurrency      int           `json:"home_concurrency" help:"home precomputation jobs one node runs at once"`
	HomeSize             int           `json:"home_size" help:"most rooms on a user's home"`
}

func defaultRooms() RoomsConfig {
	return RoomsConfig{
		Enabled:              true,
		Tick:                 50 * time.Millisecond,
		MembershipInterval:   250 * time.Millisecond,
		ReactionInterval:     200 * time.Millisecond,
		TallyInterval:        500 * time.Millisecond,
		CountsInterval:       time.Second,
		ReconnectGrace:       30 * time.Second,
		HostGrace:            2 * time.Minute,
		HotStateTTL:          72 * time.Hour,
		MaxScheduleAhead:     90 * 24 * time.Hour,
		MaxTitle:             120,
		MaxDescription:       2000,
		MaxTopics:            5,
		MaxParticipants:      100000,
		MaxStage:             20,
		MaxGuests:            200,
		MaxComment:           500,
		CommentRate:          1,
		CommentBurst:         5,
		MaxSlowMode:          10 * time.Minute,
		RecentComments:       50,
		Reactions:            []string{"👏", "❤️", "😂", "🔥", "💯", "🙌", "😮", "👍"},
		ReactionRate:         20,
		ReactionBurst:        60,
		MaxPollOptions:       6,
		MaxPollDuration:      24 * time.Hour,
		MaxOpenPolls:         3,
		HotSnapshotInterval:  time.Second,
		SweepInterval:        time.Minute,
		AnalyticsSink:        "auto",
		AnalyticsAckWait:     2 * time.Minute,
		AnalyticsConcurrency: 2,
		HomeConcurrency:      4,
		HomeSize:             100,
	}
}

func (c *RoomsConfig) validate() error {
	durations := []struct {
		key string
		v   time.Duration
		min time.Duration
	}{
		{"rooms.tick", c.Tick, 5 * time.Millisecond},
		{"rooms.membership_interval", c.MembershipInterval, c.Tick},
		{"rooms.reaction_interval", c.ReactionInterval, c.Tick},
		{"rooms.tally_interval", c.TallyInterval, c.Tick},
		{"rooms.counts_interval", c.CountsInterval, c.Tick},
		{"rooms.reconnect_grace", c.ReconnectGrace, time.Second},
		{"rooms.host_grace", c.HostGrace, time.Second},
		{"rooms.hot_state_ttl", c.HotStateTTL, time.Minute},
		{"rooms.max_schedule_ahead", c.MaxScheduleAhead, time.Minute},
		{"rooms.max_slow_mode", c.MaxSlowMode, time.Second},
		{"rooms.max_poll_duration", c.MaxPollDuration, 5 * time.Second},
		{"rooms.hot_snapshot_interval", c.HotSnapshotInterval, 10 * time.Millisecond},
		{"rooms.sweep_interval", c.SweepInterval, 100 * time.Millisecond},
		{"rooms.analytics_ack_wait", c.AnalyticsAckWait, time.Second},
	}
	for _, d := range durations {
		if d.v < d.min {
			return bad(d.key, "must be at least %s", d.min)
		}
	}
	if c.Tick > time.Second {
		return bad("rooms.tick", "must be at most 1s")
	}
	ints := []struct {
		key string
		v   int
		min int
	}{
		{"rooms.max_title", c.MaxTitle, 1}, {"rooms.max_description", c.MaxDescription, 0},
		{"rooms.max_topics", c.MaxTopics, 0}, {"rooms.max_participants", c.MaxParticipants, 2},
		{"rooms.max_stage", c.MaxStage, 1}, {"rooms.max_guests", c.MaxGuests, 1},
		{"rooms.max_comment", c.MaxComment, 1}, {"rooms.comment_burst", c.CommentBurst, 1},
		{"rooms.recent_comments", c.RecentComments, 0}, {"rooms.reaction_burst", c.ReactionBurst, 1},
		{"rooms.max_open_polls", c.MaxOpenPolls, 1}, {"rooms.analytics_concurrency", c.AnalyticsConcurrency, 1},
		{"rooms.home_concurrency", c.HomeConcurrency, 1}, {"rooms.home_size", c.HomeSize, 1},
	}
	for _, n := range ints {
		if n.v < n.min {
			return bad(n.key, "must be at least %d", n.min)
		}
	}
	if c.MaxPollOptions < 2 || c.MaxPollOptions > 6 {
		return bad("rooms.max_poll_options", "must be between 2 and 6")
	}
	if c.CommentRate <= 0 {
		return bad("rooms.comment_rate", "must be positive")
	}
	if c.ReactionRate <= 0 {
		return bad("rooms.reaction_rate", "must be positive")
	}
	if len(c.Reactions) == 0 || len(c.Reactions) > 64 {
		return bad("rooms.reactions", "list 1 to 64 emoji")
	}
	for _, e := range c.Reactions {
		if e == "" || len(e) > 32 || !utf8.ValidString(e) {
			return bad("rooms.reactions", "%q is not an emoji of at most 32 bytes", e)
		}
	}
	switch c.AnalyticsSink {
	case "auto", "parquet", "postgres", "off":
	default:
		return bad("rooms.analytics_sink", "%q is not auto, parquet, postgres or off", c.AnalyticsSink)
	}
	return nil
}
