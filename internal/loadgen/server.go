package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ServerSample is what the node's /metrics said at one moment.
type ServerSample struct {
	At          time.Time `json:"at"`
	RSS         int64     `json:"rss_bytes"`
	OpenFDs     int64     `json:"open_fds"`
	Goroutines  int64     `json:"goroutines"`
	Connections int64     `json:"connections"`
	// HeapInuse and StackInuse are the Go runtime's own figures: unlike
	// RSS, they do not keep memory the runtime freed but has not returned.
	HeapInuse  int64 `json:"heap_inuse_bytes"`
	StackInuse int64 `json:"stack_inuse_bytes"`
}

// sampleMetrics maps the metric names read to the sample's fields.
var sampleMetrics = map[string]func(*ServerSample) *int64{
	"process_resident_memory_bytes": func(s *ServerSample) *int64 { return &s.RSS },
	"process_open_fds":              func(s *ServerSample) *int64 { return &s.OpenFDs },
	"go_goroutines":                 func(s *ServerSample) *int64 { return &s.Goroutines },
	"parley_gateway_connections":    func(s *ServerSample) *int64 { return &s.Connections },
	"go_memstats_heap_inuse_bytes":  func(s *ServerSample) *int64 { return &s.HeapInuse },
	"go_memstats_stack_inuse_bytes": func(s *ServerSample) *int64 { return &s.StackInuse },
}

// scraper reads the node's Prometheus endpoint and keeps the peaks seen.
type scraper struct {
	url string
	hc  *http.Client

	mu       sync.Mutex
	peakRSS  int64
	peakFDs  int64
	peakGors int64
	lastErr  error
}

func newScraper(url string, apis *apiPool) *scraper {
	hc := *apis.get(0).HTTP
	hc.Timeout = 5 * time.Second
	return &scraper{url: url, hc: &hc}
}

// sample reads the metrics once.
func (s *scraper) sample(ctx context.Context) (*ServerSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		s.setErr(err)
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("%s: HTTP %d", s.url, resp.StatusCode)
		s.setErr(err)
		return nil, err
	}
	smp := &ServerSample{At: time.Now()}
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		field := sampleMetrics[name]
		if field == nil {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		if err != nil {
			continue
		}
		*field(smp) = int64(v)
		found++
	}
	if err := sc.Err(); err != nil {
		s.setErr(err)
		return nil, err
	}
	if smp.RSS == 0 {
		err := fmt.Errorf("%s has no process_resident_memory_bytes", s.url)
		s.setErr(err)
		return nil, err
	}
	s.mu.Lock()
	s.peakRSS = max(s.peakRSS, smp.RSS)
	s.peakFDs = max(s.peakFDs, smp.OpenFDs)
	s.peakGors = max(s.peakGors, smp.Goroutines)
	s.mu.Unlock()
	return smp, nil
}

func (s *scraper) setErr(err error) {
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
}

// watch samples every interval until ctx ends, to catch the peaks.
func (s *scraper) watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = s.sample(ctx)
		}
	}
}

// peaks returns the largest RSS, descriptor and goroutine counts seen.
func (s *scraper) peaks() (rss, fds, goroutines int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peakRSS, s.peakFDs, s.peakGors, s.lastErr
}
