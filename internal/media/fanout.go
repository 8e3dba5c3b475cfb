package media

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// fanout carries one sender's packets to its receivers. Writing a packet to
// a receiver costs its SRTP encryption and one UDP write (about 10 µs here),
// so one goroutine serves at most some 100,000 receiver-packets a second: a
// host heard by thousands of listeners would saturate it. The receivers are
// therefore split into shards of at most Config.FanoutShard each, every
// shard a track of its own (same track and stream ids) written by its own
// goroutine; the first shard is written by the sender's forwarding goroutine
// itself, so a small room costs no hand-off.
type fanout struct {
	srv       *Server
	id        ParticipantID
	shardSize int
	maxShards int

	// shards is read by the forwarding goroutine for every packet; it is
	// replaced (copy on write) under the session lock.
	shards  atomic.Pointer[[]*shard]
	dropped atomic.Uint64 // packets a busy shard could not take
	done    chan struct{} // closed to stop the shard goroutines
	closed  bool          // session lock
}

// shard is one group of receivers of a sender.
type shard struct {
	track *webrtc.TrackLocalStaticRTP
	n     int             // receivers; session lock
	ch    chan *packetRef // nil for the first shard, written inline
}

// packetRef is one marshalled packet shared by the shard goroutines; the
// last one to finish returns its buffer to the pool.
type packetRef struct {
	buf  []byte
	refs atomic.Int32
}

var packetPool = sync.Pool{New: func() any { return &packetRef{buf: make([]byte, 0, 1500)} }}

func (r *packetRef) release() {
	if r.refs.Add(-1) == 0 {
		r.buf = r.buf[:0]
		packetPool.Put(r)
	}
}

func newFanout(s *Server, id ParticipantID) (*fanout, error) {
	f := &fanout{srv: s, id: id, shardSize: s.cfg.FanoutShard, maxShards: max(2, 2*runtime.GOMAXPROCS(0)), done: make(chan struct{})}
	t, err := newTrack(id)
	if err != nil {
		return nil, err
	}
	f.shards.Store(&[]*shard{{track: t}})
	return f, nil
}

// assign picks the shard of a new receiver: the least loaded, or a new one
// when all are full and there is room for more. Session lock held.
func (f *fanout) assign() (*shard, error) {
	list := *f.shards.Load()
	best := list[0]
	for _, sh := range list[1:] {
		if sh.n < best.n {
			best = sh
		}
	}
	if best.n >= f.shardSize && len(list) < f.maxShards {
		t, err := newTrack(f.id)
		if err != nil {
			return nil, err
		}
		sh := &shard{track: t, ch: make(chan *packetRef, 64)}
		f.srv.wg.Add(1)
		go f.run(sh)
		next := append(append([]*shard(nil), list...), sh)
		f.shards.Store(&next)
		best = sh
	}
	best.n++
	return best, nil
}

// release forgets a receiver of sh. Session lock held.
func (f *fanout) release(sh *shard) {
	if sh != nil && sh.n > 0 {
		sh.n--
	}
}

// close stops the shard goroutines. Session lock held. The channels stay
// open: the forwarding goroutine may still hand a packet to one (it never
// blocks doing so).
func (f *fanout) close() {
	if !f.closed {
		f.closed = true
		close(f.done)
	}
}

// run writes the packets handed to one shard.
func (f *fanout) run(sh *shard) {
	defer f.srv.wg.Done()
	for {
		select {
		case <-f.done:
			return
		case ref := <-sh.ch:
			_, _ = sh.track.Write(ref.buf)
			ref.release()
		}
	}
}

// write sends pkt to every receiver. It runs on the sender's forwarding
// goroutine; a shard too busy to take the packet drops it (and counts it)
// rather than holding up the others.
func (f *fanout) write(pkt *rtp.Packet) {
	list := *f.shards.Load()
	if len(list) > 1 {
		ref := packetPool.Get().(*packetRef)
		n, err := pkt.Header.MarshalTo(ref.buf[:cap(ref.buf)])
		if err == nil {
			ref.buf = append(ref.buf[:n], pkt.Payload...)
			ref.refs.Store(int32(len(list) - 1))
			for _, sh := range list[1:] {
				select {
				case sh.ch <- ref:
				default:
					f.dropped.Add(1)
					ref.release()
				}
			}
		} else {
			packetPool.Put(ref)
		}
	}
	_ = list[0].track.WriteRTP(pkt)
}
