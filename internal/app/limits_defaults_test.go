package app

import (
	"reflect"
	"testing"

	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/rooms"
)

// TestConfigDefaultsAreTheDomainDefaults: the configuration's defaults and
// the domains' own (used by tools that run without a configuration, such as
// `parley rebuild`) are written in two places; they must not drift.
func TestConfigDefaultsAreTheDomainDefaults(t *testing.T) {
	def := config.Default()
	if got, want := limitsFrom(def.Rooms), rooms.DefaultLimits(); !reflect.DeepEqual(got, want) {
		t.Errorf("rooms: limits from the default config\n%+v\nwant rooms.DefaultLimits()\n%+v", got, want)
	}
	if got, want := chatLimits(def.Chat), chat.DefaultLimits(); !reflect.DeepEqual(got, want) {
		t.Errorf("chat: limits from the default config\n%+v\nwant chat.DefaultLimits()\n%+v", got, want)
	}
}
