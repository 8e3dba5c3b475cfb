package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// shard is one process's share of the load connections, seen from the
// coordinating process: either in-process or a worker process.
type shard interface {
	// progress returns the shard's counters now.
	progress() Progress
	// ready is closed when every connection of the shard has connected or
	// failed, or the shard stopped.
	ready() <-chan struct{}
	// finish waits for the receivers to reach final, closes the
	// connections and returns what the shard measured.
	finish(ctx context.Context, final uint64) (*Result, error)
	// abort closes everything now. It is safe after finish.
	abort()
}

// localShard runs a worker in this process.
type localShard struct {
	w      *worker
	cancel context.CancelFunc
	once   sync.Once
}

func startLocal(ctx context.Context, job Job) *localShard {
	ctx, cancel := context.WithCancel(ctx)
	s := &localShard{w: newWorker(job), cancel: cancel}
	go s.w.run(ctx)
	return s
}

func (s *localShard) progress() Progress     { return s.w.progress() }
func (s *localShard) ready() <-chan struct{} { return s.w.done }

func (s *localShard) finish(ctx context.Context, final uint64) (*Result, error) {
	s.cancel() // stops connecting if the run was cut short
	var r *Result
	s.once.Do(func() { r = s.w.finish(ctx, final) })
	if r == nil {
		return nil, errors.New("loadgen: shard already closed")
	}
	return r, nil
}

func (s *localShard) abort() {
	s.cancel()
	s.once.Do(func() { s.w.closeAll(s.w.connsSnapshot()) })
}

// Messages between a coordinating process and its workers, one JSON object
// a line. The coordinator writes the Job first, then commands; the worker
// writes progress, then its result.
type workerCmd struct {
	Cmd   string `json:"cmd"` // "finish" or "abort"
	Final uint64 `json:"final,omitempty"`
}

type workerMsg struct {
	Type     string    `json:"type"` // "progress", "result" or "error"
	Progress *Progress `json:"progress,omitempty"`
	Result   *Result   `json:"result,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// workerCommand returns the command that starts a worker process: this
// executable, which must be the parley binary.
var workerCommand = func() (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("loadgen: cannot find the parley executable for worker processes: %w", err)
	}
	if strings.HasSuffix(exe, ".test") {
		return nil, fmt.Errorf("loadgen: worker processes need the parley binary, not %s", filepath.Base(exe))
	}
	cmd := exec.Command(exe, "loadgen", "--worker")
	// Workers stop when their parent closes their stdin, not on a
	// terminal's interrupt: the parent collects what they measured first.
	ownProcessGroup(cmd)
	return cmd, nil
}

// procShard runs a worker process.
type procShard struct {
	idx    int
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	wmu    sync.Mutex
	exited chan struct{}

	mu       sync.Mutex
	prog     Progress
	readyCh  chan struct{}
	readyOne sync.Once
	result   chan *Result
	errMsg   string
}

func startProc(idx int, job Job, stderr io.Writer) (*procShard, error) {
	cmd, err := workerCommand()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("loadgen: start worker %d: %w", idx, err)
	}
	s := &procShard{
		idx: idx, cmd: cmd, stdin: stdin,
		exited:  make(chan struct{}),
		readyCh: make(chan struct{}),
		result:  make(chan *Result, 1),
		prog:    Progress{Target: job.Conns},
	}
	go s.read(stdout)
	if err := s.send(job); err != nil {
		s.abort()
		return nil, fmt.Errorf("loadgen: worker %d: %w", idx, err)
	}
	return s, nil
}

func (s *procShard) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_, err = s.stdin.Write(append(b, '\n'))
	return err
}

// read handles the worker's messages until it exits.
func (s *procShard) read(stdout io.Reader) {
	defer close(s.exited)
	defer s.readyOne.Do(func() { close(s.readyCh) })
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var m workerMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			s.setErr(fmt.Sprintf("bad message from worker: %v", err))
			continue
		}
		switch m.Type {
		case "progress":
			if m.Progress != nil {
				s.mu.Lock()
				s.prog = *m.Progress
				s.mu.Unlock()
				if m.Progress.Done {
					s.readyOne.Do(func() { close(s.readyCh) })
				}
			}
		case "result":
			if m.Result != nil {
				s.result <- m.Result
			}
		case "error":
			s.setErr(m.Error)
		}
	}
	_ = s.cmd.Wait()
}

func (s *procShard) setErr(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.errMsg == "" {
		s.errMsg = msg
	}
}

func (s *procShard) progress() Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prog
}

func (s *procShard) ready() <-chan struct{} { return s.readyCh }

func (s *procShard) finish(ctx context.Context, final uint64) (*Result, error) {
	defer s.abort()
	if err := s.send(workerCmd{Cmd: "finish", Final: final}); err != nil {
		return nil, s.failure("worker %d did not take the finish command: %v", s.idx, err)
	}
	select {
	case r := <-s.result:
		return r, nil
	case <-s.exited:
		select {
		case r := <-s.result:
			return r, nil
		default:
		}
		return nil, s.failure("worker %d exited without a result", s.idx)
	case <-ctx.Done():
		return nil, s.failure("worker %d gave no result in time", s.idx)
	}
}

func (s *procShard) failure(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	if s.errMsg != "" {
		msg += ": " + s.errMsg
	}
	s.mu.Unlock()
	return errors.New(msg)
}

// abort closes the worker's stdin, which makes it close its connections
// and exit, and kills it if it has not exited within a few seconds.
func (s *procShard) abort() {
	s.wmu.Lock()
	_ = s.stdin.Close()
	s.wmu.Unlock()
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// runWorker is the worker process: it reads its Job from stdin, opens the
// connections, reports progress on stdout, and on the finish command
// reports its result and exits. It closes everything and exits when stdin
// closes (its parent is gone) or when the job's deadline passes.
func runWorker(ctx context.Context, stdin io.Reader, stdout io.Writer) int {
	br := bufio.NewReaderSize(stdin, 1<<20)
	line, err := br.ReadBytes('\n')
	var job Job
	if err == nil {
		err = json.Unmarshal(line, &job)
	}
	var wmu sync.Mutex
	enc := json.NewEncoder(stdout)
	emit := func(m workerMsg) {
		wmu.Lock()
		defer wmu.Unlock()
		_ = enc.Encode(m)
	}
	if err != nil || job.Conns < 1 || len(job.Sources) == 0 || job.Deadline <= 0 {
		emit(workerMsg{Type: "error", Error: fmt.Sprintf("bad job: %v", err)})
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, job.Deadline)
	defer cancel()
	dialCtx, stopDialing := context.WithCancel(ctx)
	defer stopDialing()
	w := newWorker(job)
	go w.run(dialCtx)
	cmds := make(chan workerCmd, 1)
	go func() {
		defer close(cmds)
		for {
			line, err := br.ReadBytes('\n')
			if err != nil {
				return
			}
			var c workerCmd
			if json.Unmarshal(line, &c) == nil {
				cmds <- c
			}
		}
	}()
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	done := w.done
	for {
		select {
		case <-done:
			done = nil
			p := w.progress()
			emit(workerMsg{Type: "progress", Progress: &p})
		case <-tick.C:
			p := w.progress()
			emit(workerMsg{Type: "progress", Progress: &p})
		case c, ok := <-cmds:
			stopDialing()
			if ok && c.Cmd == "finish" {
				r := w.finish(ctx, c.Final)
				emit(workerMsg{Type: "result", Result: r})
				return 0
			}
			w.closeAll(w.connsSnapshot())
			return 1
		case <-ctx.Done():
			emit(workerMsg{Type: "error", Error: "worker stopped: " + context.Cause(ctx).Error()})
			w.closeAll(w.connsSnapshot())
			return 1
		}
	}
}
