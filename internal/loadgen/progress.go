package loadgen

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progressEvery is how often the display is updated.
const progressEvery = 250 * time.Millisecond

// progress shows how a run goes on stderr: a bar redrawn in place on a
// terminal, otherwise a plain line every few seconds.
type progress struct {
	w   io.Writer
	tty bool
	off bool

	mu        sync.Mutex
	drawn     bool
	lastPlain time.Time
}

func newProgress(w io.Writer, off bool) *progress {
	p := &progress{w: w, off: off}
	if f, ok := w.(*os.File); ok && isTerminal(f) {
		p.tty = true
	}
	return p
}

// notef prints a line about the run's phases.
func (p *progress) notef(format string, args ...any) {
	if p.off {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintf(p.w, "loadgen: "+format+"\n", args...)
	p.lastPlain = time.Time{}
}

// warnf prints a warning, even when progress is off.
func (p *progress) warnf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintf(p.w, "loadgen: warning: "+format+"\n", args...)
}

// update shows the state of the current phase; frac in [0, 1] fills the bar,
// a negative frac shows none. Without a terminal, a line is printed every
// few seconds, and always when final is set.
func (p *progress) update(frac float64, text string, final bool) {
	if p.off {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tty {
		if !final && time.Since(p.lastPlain) < 2*time.Second {
			return
		}
		p.lastPlain = time.Now()
		fmt.Fprintf(p.w, "loadgen: %s\n", text)
		return
	}
	bar := ""
	if frac >= 0 {
		const width = 30
		n := int(min(frac, 1) * width)
		bar = "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "] "
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s%s", bar, text)
	p.drawn = true
}

// done ends the current bar.
func (p *progress) done() {
	if p.off {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
	p.lastPlain = time.Time{}
}

func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}
