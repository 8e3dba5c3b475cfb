package config

// MediaConfig configures the media domain. Its fields, defaults and checks live
// in this file.
type MediaConfig struct {
	Enabled bool `json:"enabled" help:"serve the media features"`
}

func defaultMedia() MediaConfig { return MediaConfig{Enabled: true} }

func (c *MediaConfig) validate() error { return nil }
