package gateway

import (
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/protocol"
)

// SendToConn queues f on one connection of user on this node, identified by
// its id (gateway.Caller.Conn), and reports whether the connection exists.
// It is for conversations bound to one connection, such as media signaling;
// events for a user go through DeliverToUser or a stream.
func (s *Server) SendToConn(user core.UserID, id core.ConnID, f *protocol.Frame) bool {
	s.mu.Lock()
	var target *conn
	for _, c := range s.byUser[user] {
		if c.id == id {
			target = c
			break
		}
	}
	s.mu.Unlock()
	return target != nil && target.send(f)
}
