package config

// RoomsConfig configures the rooms domain. Its fields, defaults and checks live
// in this file.
type RoomsConfig struct {
	Enabled bool `json:"enabled" help:"serve the rooms features"`
}

func defaultRooms() RoomsConfig { return RoomsConfig{Enabled: true} }

func (c *RoomsConfig) validate() error { return nil }
