// Package natstest runs real nats-server processes for tests: a single
// JetStream server, or a three-node JetStream cluster, each on random
// loopback ports with its store in the test's temporary directory.
//
// The server binary is built from the nats-server module that go.mod pins,
// once per version, into os.UserCacheDir()/parley-test/ and reused by later
// runs; parallel test processes that race to build it each build into a
// temporary file and rename it into place, so a reader never sees a partial
// binary. Set PARLEY_TEST_NATS_SERVER to the path of a nats-server binary
// (>= 2.11) to use that one instead. The system nats-server is never used:
// Debian ships 2.9, which lacks per-message TTL.
//
// This package starts processes and speaks HTTP to their monitoring
// endpoint; it does not import NATS (only internal/bus does).
package natstest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvBinary names the variable that points tests at a prebuilt nats-server.
const EnvBinary = "PARLEY_TEST_NATS_SERVER"

// module is the import path of the server's main package.
const module = "github.com/nats-io/nats-server/v2"

// startTimeout bounds how long a server may take to become healthy.
const startTimeout = 60 * time.Second

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary returns the path of a nats-server executable, building it from the
// pinned module on first use. It is safe for concurrent use, within and
// across processes.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() { binPath, binErr = findOrBuild() })
	if binErr != nil {
		t.Fatalf("natstest: %v", binErr)
	}
	return binPath
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

func findOrBuild() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvBinary, p, err)
		}
		return p, nil
	}
	out, err := exec.Command(goTool(), "list", "-m", "-f", "{{.Version}}", module).Output()
	if err != nil {
		return "", fmt.Errorf("find the pinned %s version (go list -m): %w%s", module, err, stderrOf(err))
	}
	version := strings.TrimSpace(string(out))
	cache, err := os.UserCacheDir()
	if err != nil || cache == "" {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "parley-test")
	if version == "" {
		// A replaced or development module has no version to key a cache
		// entry by; build a private copy for this process.
		version = "devel-" + randHex(6)
	}
	final := filepath.Join(dir, fmt.Sprintf("nats-server-%s-%s-%s", version, runtime.GOOS, runtime.GOARCH))
	if fi, err := os.Stat(final); err == nil && fi.Mode().IsRegular() {
		return final, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create build cache dir: %w", err)
	}
	tmp := fmt.Sprintf("%s.tmp-%d-%s", final, os.Getpid(), randHex(4))
	cmd := exec.Command(goTool(), "build", "-trimpath", "-o", tmp, module)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("build %s@%s: %w\n%s", module, version, err, stderr.String())
	}
	// Rename is atomic: concurrent builders each replace the file with a
	// complete binary of the same version.
	if err := os.Rename(tmp, final); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("install built nats-server: %w", err)
	}
	return final, nil
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return "\n" + string(ee.Stderr)
	}
	return ""
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Server is one nats-server process. Its methods are safe for concurrent
// use. The process is stopped when the test that started it ends.
type Server struct {
	// Name is the server name (unique within a cluster).
	Name string
	// StoreDir holds the server's JetStream files; it survives Stop and
	// Restart, so streams and consumers are recovered.
	StoreDir string

	dir     string // config, ports file and log
	binary  string
	cluster *clusterConf

	mu          sync.Mutex
	clientPort  int // 0 until first started on a random port
	httpPort    int
	clusterPort int
	cmd         *exec.Cmd
	exited      chan struct{}
	exitErr     error
}

type clusterConf struct {
	name   string
	routes []string
}

// Start runs a single JetStream server on random loopback ports, with its
// store in a temporary directory, and waits until it is healthy.
func Start(t testing.TB) *Server {
	t.Helper()
	s := newServer(t, "n1", nil)
	if err := s.start(); err != nil {
		t.Fatalf("natstest: %v", err)
	}
	return s
}

func newServer(t testing.TB, name string, cc *clusterConf) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	s := &Server{
		Name:     name,
		StoreDir: filepath.Join(dir, "store"),
		dir:      dir,
		binary:   bin,
		cluster:  cc,
	}
	// t.TempDir registered its cleanup first, so this one runs before the
	// directory is removed.
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("natstest: log of %s:\n%s", s.Name, s.logTail(60))
		}
	})
	return s
}

// URL returns the client URL, nats://127.0.0.1:<port>.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("nats://127.0.0.1:%d", s.clientPort)
}

// MonitorURL returns the base URL of the HTTP monitoring endpoint.
func (s *Server) MonitorURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("http://127.0.0.1:%d", s.httpPort)
}

// Running reports whether the process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// Stop shuts the server down gracefully (SIGTERM), killing it if it has not
// exited within ten seconds. It is a no-op on a stopped server.
func (s *Server) Stop() { s.halt(syscall.SIGTERM, 10*time.Second) }

// Kill ends the process at once (SIGKILL), as a crash would.
func (s *Server) Kill() { s.halt(syscall.SIGKILL, 10*time.Second) }

func (s *Server) halt(sig syscall.Signal, grace time.Duration) {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exited:
	default:
		_ = cmd.Process.Signal(sig)
		select {
		case <-exited:
		case <-time.After(grace):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	s.mu.Lock()
	if s.cmd == cmd {
		s.cmd = nil
	}
	s.mu.Unlock()
}

// Restart starts a stopped or killed server again on the same ports with
// the same store, and waits until it is healthy. A running server is
// stopped first.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		t.Fatalf("natstest: restart %s: %v", s.Name, err)
	}
}

func (s *Server) configText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	port := func(p int) int {
		if p == 0 {
			return -1
		}
		return p
	}
	var b strings.Builder
	fmt.Fprintf(&b, "server_name: %q\n", s.Name)
	fmt.Fprintf(&b, "listen: \"127.0.0.1:%d\"\n", port(s.clientPort))
	fmt.Fprintf(&b, "http: \"127.0.0.1:%d\"\n", port(s.httpPort))
	fmt.Fprintf(&b, "ports_file_dir: %q\n", s.dir)
	b.WriteString("max_payload: 8MB\n")
	fmt.Fprintf(&b, "jetstream {\n  store_dir: %q\n  max_memory_store: 1GB\n  max_file_store: 4GB\n}\n", s.StoreDir)
	if s.cluster != nil {
		fmt.Fprintf(&b, "cluster {\n  name: %q\n  listen: \"127.0.0.1:%d\"\n  routes: [\n", s.cluster.name, port(s.clusterPort))
		for _, r := range s.cluster.routes {
			fmt.Fprintf(&b, "    %q\n", r)
		}
		b.WriteString("  ]\n}\n")
	}
	return b.String()
}

func (s *Server) start() error {
	conf := filepath.Join(s.dir, "server.conf")
	if err := os.WriteFile(conf, []byte(s.configText()), 0o644); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.binary, "-c", conf)
	cmd.Stdout = logf
	cmd.Stderr = logf
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start nats-server: %w", err)
	}
	exited := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.exited, s.exitErr = cmd, exited, nil
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		s.mu.Lock()
		s.exitErr = err
		s.mu.Unlock()
		close(exited)
	}()
	if err := s.waitReady(cmd.Process.Pid, exited); err != nil {
		s.Kill()
		return fmt.Errorf("%s: %w\n%s", s.Name, err, s.logTail(30))
	}
	return nil
}

// waitReady reads the ports file the server writes once its listeners are
// up, then polls /healthz until JetStream reports healthy (in a cluster:
// until a meta leader is known).
func (s *Server) waitReady(pid int, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	portsFile := filepath.Join(s.dir, fmt.Sprintf("%s_%d.ports", filepath.Base(s.binary), pid))
	client := &http.Client{Timeout: 2 * time.Second}
	havePorts := false
	for {
		select {
		case <-exited:
			s.mu.Lock()
			err := s.exitErr
			s.mu.Unlock()
			return fmt.Errorf("nats-server exited during start: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nats-server not healthy within %v", startTimeout)
		}
		if !havePorts {
			havePorts = s.readPorts(portsFile)
		}
		if havePorts {
			resp, err := client.Get(s.MonitorURL() + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Server) readPorts(file string) bool {
	data, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	var p struct {
		Nats       []string `json:"nats"`
		Monitoring []string `json:"monitoring"`
		Cluster    []string `json:"cluster"`
	}
	// The server writes the file non-atomically; a partial file fails to
	// parse and is read again on the next poll.
	if json.Unmarshal(data, &p) != nil || len(p.Nats) == 0 || len(p.Monitoring) == 0 {
		return false
	}
	client, err1 := portOf(p.Nats[0])
	mon, err2 := portOf(p.Monitoring[0])
	if err1 != nil || err2 != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clientPort, s.httpPort = client, mon
	if len(p.Cluster) > 0 {
		if c, err := portOf(p.Cluster[0]); err == nil {
			s.clusterPort = c
		}
	}
	return true
}

func portOf(u string) (int, error) {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	_, port, err := net.SplitHostPort(u)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(port)
}

// logTail returns the last n lines of the server's log.
func (s *Server) logTail(n int) string {
	data, err := os.ReadFile(filepath.Join(s.dir, "server.log"))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Cluster is a JetStream cluster of nats-server processes joined by routes.
type Cluster struct {
	Servers []*Server
}

// ClusterSize is the number of nodes StartCluster runs.
const ClusterSize = 3

// StartCluster runs a three-node JetStream cluster on random loopback
// ports, each node with its own store, and waits until every node is
// healthy (a meta leader is elected). Nodes can be stopped, killed and
// restarted one by one.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	var lastErr error
	// Ports are chosen before the processes bind them (every node must know
	// its peers' route ports), so another process may take one in between;
	// try again with fresh ports when that happens.
	for attempt := 0; attempt < 3; attempt++ {
		c, err := startCluster(t, attempt)
		if err == nil {
			return c
		}
		lastErr = err
	}
	t.Fatalf("natstest: cluster: %v", lastErr)
	return nil
}

func startCluster(t testing.TB, attempt int) (*Cluster, error) {
	t.Helper()
	ports, err := freePorts(3 * ClusterSize)
	if err != nil {
		return nil, err
	}
	routes := make([]string, ClusterSize)
	for i := range routes {
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3*i+2])
	}
	c := &Cluster{}
	name := "parley-test-" + randHex(3)
	for i := 0; i < ClusterSize; i++ {
		var peers []string
		for j, r := range routes {
			if j != i {
				peers = append(peers, r)
			}
		}
		s := newServer(t, fmt.Sprintf("n%d-%d", i+1, attempt), &clusterConf{name: name, routes: peers})
		s.clientPort, s.httpPort, s.clusterPort = ports[3*i], ports[3*i+1], ports[3*i+2]
		c.Servers = append(c.Servers, s)
	}
	// Start all nodes at once: none is healthy until a meta leader exists,
	// which needs a quorum of them.
	errc := make(chan error, len(c.Servers))
	for _, s := range c.Servers {
		go func() { errc <- s.start() }()
	}
	var errs []error
	for range c.Servers {
		if err := <-errc; err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		c.Stop()
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// URL returns the client URLs of every node, comma separated, as NATS
// clients accept them.
func (c *Cluster) URL() string {
	urls := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		urls[i] = s.URL()
	}
	return strings.Join(urls, ",")
}

// Stop stops every node.
func (c *Cluster) Stop() {
	var wg sync.WaitGroup
	for _, s := range c.Servers {
		wg.Go(s.Stop)
	}
	wg.Wait()
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
