package config

// ChatConfig configures the chat domain. Its fields, defaults and checks live
// in this file.
type ChatConfig struct {
	Enabled bool `json:"enabled" help:"serve the chat features"`
}

func defaultChat() ChatConfig { return ChatConfig{Enabled: true} }

func (c *ChatConfig) validate() error { return nil }
