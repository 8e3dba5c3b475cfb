package bus

import "github.com/parleyhq/parley/internal/core"

// Every NATS subject and bucket name Parley uses is built here. Stream ids
// and node ids are validated tokens ([A-Za-z0-9_-]), so they are safe as
// subject tokens.
const prefix = "parley."

// StreamEvents is where the owner of a stream publishes each event after it
// is committed to the log: parley.ev.<kind>.<id>.
func StreamEvents(s core.StreamID) string {
	return prefix + "ev." + s.Kind() + "." + s.ID()
}

// StreamEphemeral carries events of a stream that are never logged (typing,
// presence, reaction ticks): parley.eph.<kind>.<id>.
func StreamEphemeral(s core.StreamID) string {
	return prefix + "eph." + s.Kind() + "." + s.ID()
}

// StreamCommands is where the owner of a stream takes commands:
// parley.cmd.<kind>.<id>.
func StreamCommands(s core.StreamID) string {
	return prefix + "cmd." + s.Kind() + "." + s.ID()
}

// NodePush is where a node takes frames to deliver to its local connections
// of a user: parley.node.<node>.push.
func NodePush(n core.NodeID) string { return prefix + "node." + string(n) + ".push" }

// AuthRevoked carries revoked sign-in sessions to every node.
const AuthRevoked = prefix + "auth.revoked"

// KV bucket names.
const (
	BucketPresence = "parley_presence"
	BucketLastSeen = "parley_lastseen"
	BucketLeases   = "parley_leases"
	// BucketMedia maps each audio session to the node whose media server
	// hosts it.
	BucketMedia = "parley_media"
)

// QueueSubject is the subject of work-queue name: parley.q.<name>.
func QueueSubject(name string) string { return prefix + "q." + name }

// DeadLetterSubject is where jobs of queue name go after their last failed
// delivery: parley.dlq.<name>.
func DeadLetterSubject(name string) string { return prefix + "dlq." + name }

// QueueStream is the JetStream stream that holds the jobs of work-queue
// name: PARLEY_Q_<name>.
func QueueStream(name string) string { return "PARLEY_Q_" + name }

// DeadLetterStream is the JetStream stream that keeps the dead-lettered
// jobs of work-queue name: PARLEY_DLQ_<name>.
func DeadLetterStream(name string) string { return "PARLEY_DLQ_" + name }

// NodeCommands is where a node takes commands for the streams it owns,
// forwarded by other nodes: parley.node.<node>.cmd.
func NodeCommands(n core.NodeID) string { return prefix + "node." + string(n) + ".cmd" }

// NodeMedia is where a node's media server takes requests for the audio
// sessions it hosts, from the nodes its participants are connected to:
// parley.node.<node>.media.
func NodeMedia(n core.NodeID) string { return prefix + "node." + string(n) + ".media" }

// NodeMediaSignal is where a node takes the signaling of audio sessions
// hosted elsewhere for its own connections: parley.node.<node>.mediasig.
func NodeMediaSignal(n core.NodeID) string { return prefix + "node." + string(n) + ".mediasig" }
