//go:build linux

package gateway

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller watches idle connections with one epoll instance, so that a
// connection waiting for its next frame costs no goroutine: when its socket
// becomes readable, the poller starts a goroutine that reads and handles one
// message and then re-arms the socket. Sockets are registered one-shot, so
// at most one reader runs per connection and messages are handled in order.
//
// The Go runtime keeps its own registration of the same sockets; reads still
// go through net.Conn and its deadlines. Each registration carries the
// connection's generation with its descriptor, so an event for a closed
// connection can never reach a new one that reused the descriptor.
type poller struct {
	epfd    int
	mu      sync.Mutex
	conns   map[int32]*conn
	gen     atomic.Uint32
	closed  atomic.Bool
	done    chan struct{}
	onReady func(*conn)
}

const pollFlags = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

func newPoller(onReady func(*conn)) (*poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &poller{epfd: fd, conns: map[int32]*conn{}, done: make(chan struct{}), onReady: onReady}
	go p.loop()
	return p, nil
}

// connFD returns the descriptor of nc.
func connFD(nc net.Conn) (int32, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, errors.New("gateway: connection has no descriptor")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := int32(-1)
	if err := raw.Control(func(f uintptr) { fd = int32(f) }); err != nil {
		return -1, err
	}
	return fd, nil
}

// add starts watching c's socket.
func (p *poller) add(c *conn) error {
	fd, err := connFD(c.nc)
	if err != nil {
		return err
	}
	gen := p.gen.Add(1)
	c.fd, c.gen = fd, gen
	p.mu.Lock()
	p.conns[fd] = c
	p.mu.Unlock()
	ev := unix.EpollEvent{Events: pollFlags, Fd: fd, Pad: int32(gen)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
		p.mu.Lock()
		delete(p.conns, fd)
		p.mu.Unlock()
		return err
	}
	return nil
}

// rearm watches c's socket for the next message.
func (p *poller) rearm(c *conn) error {
	ev := unix.EpollEvent{Events: pollFlags, Fd: c.fd, Pad: int32(c.gen)}
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, int(c.fd), &ev)
}

// remove stops watching c. It must be called before the socket is closed.
func (p *poller) remove(c *conn) {
	p.mu.Lock()
	if p.conns[c.fd] == c {
		delete(p.conns, c.fd)
	}
	p.mu.Unlock()
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(c.fd), nil)
}

func (p *poller) loop() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 512)
	for !p.closed.Load() {
		// A timeout lets the loop notice close; events wake it at once.
		n, err := unix.EpollWait(p.epfd, events, 250)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		p.mu.Lock()
		for i := 0; i < n; i++ {
			c := p.conns[events[i].Fd]
			if c == nil || c.gen != uint32(events[i].Pad) {
				continue
			}
			go p.onReady(c)
		}
		p.mu.Unlock()
	}
}

func (p *poller) close() {
	if p.closed.Swap(true) {
		return
	}
	<-p.done
	_ = unix.Close(p.epfd)
}
