package eventlogtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
)

// CrashChildEnv is set in the environment of the child process of a crash
// test; IsCrashChild reports it.
const CrashChildEnv = "PARLEY_TEST_CRASH_CHILD"

// IsCrashChild reports whether this test process is the child of Crash and
// must run CrashChild instead of its test.
func IsCrashChild() bool { return os.Getenv(CrashChildEnv) == "1" }

const (
	crashWriters = 8
	crashStreams = 4
	// crashLifetime bounds the child's life should its parent die first.
	crashLifetime = 2 * time.Minute
)

// CrashChild is the child side of the crash test. It opens the store,
// appends through an eventlog.Log from several goroutines until it is
// killed, and after each Append returns nil prints one line per stored
// event to stdout:
//
//	ack <stream> <seq> <type> <key or -> <data>
//
// It exits by itself, with status 3, after two minutes, and with status 2
// if an append fails. It never returns.
func CrashChild(open func(ctx context.Context) (eventlog.Store, error)) {
	time.AfterFunc(crashLifetime, func() { os.Exit(3) })
	ctx := context.Background()
	s, err := open(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "crash child: open: %v\n", err)
		os.Exit(2)
	}
	l := eventlog.NewLog(s, eventlog.Options{})
	var mu sync.Mutex
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	for w := 0; w < crashWriters; w++ {
		go func() {
			for i := 0; ; i++ {
				st := core.StreamID(fmt.Sprintf("crash:s%d", (w+i)%crashStreams))
				key := ""
				if i%5 == 0 {
					key = fmt.Sprintf("w%d-%d", w, i)
				}
				ds := make([]eventlog.Draft, 1+i%3)
				for j := range ds {
					ds[j] = eventlog.Draft{Type: "crash.t" + strconv.Itoa(j), Actor: "u_crash",
						Data: fmt.Appendf(nil, `{"w":%d,"i":%d,"j":%d,"pad":"%s"}`, w, i, j, strings.Repeat("x", i%40))}
				}
				res, err := l.Append(ctx, eventlog.AppendRequest{Stream: st, Expected: eventlog.AnySeq, Key: key, Events: ds})
				if err != nil {
					fmt.Fprintf(os.Stderr, "crash child: append: %v\n", err)
					os.Exit(2)
				}
				mu.Lock()
				for _, e := range res.Events {
					k := e.Key
					if k == "" {
						k = "-"
					}
					fmt.Fprintf(out, "ack %s %d %s %s %s\n", e.Stream, e.Seq, e.Type, k, e.Data)
				}
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	select {}
}

// crashAck is one acknowledged event as the child printed it.
type crashAck struct {
	stream core.StreamID
	seq    uint64
	typ    string
	key    string
	data   string
}

func parseAck(line string) (crashAck, bool) {
	f := strings.SplitN(strings.TrimSuffix(line, "\n"), " ", 6)
	if len(f) != 6 || f[0] != "ack" {
		return crashAck{}, false
	}
	seq, err := strconv.ParseUint(f[2], 10, 64)
	if err != nil {
		return crashAck{}, false
	}
	key := f[4]
	if key == "-" {
		key = ""
	}
	return crashAck{core.StreamID(f[1]), seq, f[3], key, f[5]}, true
}

// Crash checks that an acknowledged append survives kill -9 of the
// process. It runs the test named test again as a child process of this
// test binary, with env added to its environment; that test must call
// CrashChild when IsCrashChild. Once the child has acknowledged acks
// events, Crash kills it with SIGKILL, opens the store again with reopen
// and checks that every acknowledged event is stored with its exact type,
// key and data, and that every stream is numbered from 1 without holes.
// It fails, never hangs, within a few minutes.
func Crash(t *testing.T, test string, env []string, acks int, reopen func(t *testing.T) eventlog.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), CrashChildEnv+"=1"), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	waited := false
	t.Cleanup(func() {
		if !waited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})

	// Only complete lines count: a line cut by the kill was never acked.
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		r := bufio.NewReaderSize(stdout, 64<<10)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			lines <- line
		}
	}()
	var got []crashAck
	collect := func(line string) {
		if a, ok := parseAck(line); ok {
			got = append(got, a)
		}
	}
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	for len(got) < acks {
		select {
		case line, ok := <-lines:
			if !ok {
				cmd.Wait()
				waited = true
				t.Fatalf("child exited after %d acks: %v\n%s", len(got), cmd.ProcessState, stderr.String())
			}
			collect(line)
		case <-deadline.C:
			t.Fatalf("child acknowledged only %d events in 2 minutes\n%s", len(got), stderr.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill child: %v", err)
	}
	// Lines already in the pipe were printed after their append returned:
	// they are acknowledged too.
	for line := range lines {
		collect(line)
	}
	err = cmd.Wait()
	waited = true
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed by SIGKILL\n%s", err, stderr.String())
	}

	s := reopen(t)
	checkCrashAcks(t, s, got)
}

func checkCrashAcks(t *testing.T, s eventlog.Store, acks []crashAck) {
	t.Helper()
	byStream := map[core.StreamID]map[uint64]crashAck{}
	for _, a := range acks {
		m := byStream[a.stream]
		if m == nil {
			m = map[uint64]crashAck{}
			byStream[a.stream] = m
		}
		if prev, ok := m[a.seq]; ok && prev != a {
			t.Fatalf("%s seq %d acknowledged twice with different events: %+v, %+v", a.stream, a.seq, prev, a)
		}
		m[a.seq] = a
	}
	stored := 0
	for st, m := range byStream {
		evs := readAll(t, s, st)
		stored += len(evs)
		for i, e := range evs {
			if e.Seq != uint64(i+1) {
				t.Fatalf("%s: event %d has seq %d: the stream has a hole", st, i+1, e.Seq)
			}
		}
		for seq, a := range m {
			if seq > uint64(len(evs)) {
				t.Fatalf("%s seq %d was acknowledged but the stream ends at %d", st, seq, len(evs))
			}
			e := evs[seq-1]
			if e.Type != a.typ || e.Key != a.key || string(e.Data) != a.data || e.Actor != "u_crash" {
				t.Fatalf("%s seq %d: stored %s, acknowledged %+v", st, seq, show(evs[seq-1:seq]), a)
			}
		}
		wantBounds(t, s, st, 1, uint64(len(evs)))
	}
	if len(byStream) != crashStreams {
		t.Fatalf("acks cover %d streams, want %d", len(byStream), crashStreams)
	}
	t.Logf("%d acknowledged events all stored after SIGKILL (%d stored in all)", len(acks), stored)
}
