package app

import "github.com/parleyhq/parley/internal/rooms"

// SetRoomsSinkHook sets the function given the analytics sink when a node
// starts (tests stop a worker in the middle of a room's write).
func SetRoomsSinkHook(fn func(rooms.Sink)) { roomsSinkHook = fn }
