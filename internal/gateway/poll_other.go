//go:build !linux

package gateway

import "errors"

// poller is only implemented on Linux; elsewhere every connection keeps a
// reading goroutine.
type poller struct{}

func newPoller(func(*conn)) (*poller, error) {
	return nil, errors.New("gateway: no netpoll on this OS")
}
func (p *poller) add(*conn) error   { return errors.New("unsupported") }
func (p *poller) rearm(*conn) error { return errors.New("unsupported") }
func (p *poller) remove(*conn)      {}
func (p *poller) close()            {}
