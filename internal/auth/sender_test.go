package auth_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/auth/authtest"
	"github.com/parleyhq/parley/internal/errs"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls out until it contains want, for up to 10 seconds.
func (b *syncBuffer) waitFor(t *testing.T, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q from the SMTP server after 10s; output:\n%s", want, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return b.String()
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startSMTP runs a real SMTP server (Python's smtpd) on a free loopback port
// and returns its address and its output. The process is killed when the
// test ends.
func startSMTP(t *testing.T, args func(addr string) []string) (string, *syncBuffer) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 is needed to run a real SMTP server for this test: apt-get install -y python3")
	}
	addr := freePort(t)
	out := &syncBuffer{}
	cmd := exec.Command("python3", args(addr)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr, out
		}
		if time.Now().After(deadline) {
			t.Fatalf("SMTP server did not listen on %s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func debuggingServer(t *testing.T) (string, *syncBuffer) {
	return startSMTP(t, func(addr string) []string {
		return []string{"-u", "-W", "ignore", "-m", "smtpd", "-n", "-c", "DebuggingServer", addr}
	})
}

func TestSMTPSenderDeliversMail(t *testing.T) {
	addr, out := debuggingServer(t)
	s := &auth.SMTPSender{Addr: addr, From: "parley@example.com"}
	err := s.Send(context.Background(), auth.Message{
		Channel: "email", To: "ann@example.com", Subject: "Your Parley sign-in code",
		Body: "Your Parley sign-in code is 428193\n\nIt expires in 10 minutes.\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	got := out.waitFor(t, "END MESSAGE")
	for _, want := range []string{
		"From: parley@example.com", "To: ann@example.com", "Subject: Your Parley sign-in code",
		"Content-Type: text/plain; charset=utf-8", "Message-ID: <", "Your Parley sign-in code is 428193",
		"X-Peer: 127.0.0.1",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("received message lacks %q:\n%s", want, got)
		}
	}
}

func TestCodeSignInThroughSMTP(t *testing.T) {
	addr, out := debuggingServer(t)
	e := newEnv(t, nil)
	svc, err := auth.New(context.Background(), e.cfg, e.store, &auth.SMTPSender{Addr: addr, From: "parley@example.com"}, e.clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	e.signUp(t, "ann@example.com", "ann")
	ctx := context.Background()
	if err := svc.RequestCode(ctx, auth.CodeRequest{Email: "ann@example.com", Purpose: auth.PurposeSignIn}, ""); err != nil {
		t.Fatal(err)
	}
	got := out.waitFor(t, "END MESSAGE")
	m := regexp.MustCompile(`sign-in code is ([0-9]{6})`).FindStringSubmatch(got)
	if m == nil || !strings.Contains(got, "To: ann@example.com") {
		t.Fatalf("no code for ann in:\n%s", got)
	}
	tok, err := svc.SignInWithCode(ctx, auth.CodeSignIn{Email: "ann@example.com", Code: m[1]}, "")
	if err != nil {
		t.Fatal(err)
	}
	if tok.User.Email != "ann@example.com" {
		t.Fatalf("signed in as %+v", tok.User)
	}
}

// authServer is an SMTP server that offers AUTH PLAIN, accepts only the
// given credentials and refuses mail before authentication.
const authServer = `
import asyncore, base64, smtpd, sys
host, port = sys.argv[1].rsplit(':', 1)
USER, PASS = sys.argv[2], sys.argv[3]
class Channel(smtpd.SMTPChannel):
    authed = False
    def smtp_EHLO(self, arg):
        if not arg:
            self.push('501 Syntax: EHLO hostname'); return
        self._set_rset_state()
        self.seen_greeting = arg
        self.extended_smtp = True
        self.push('250-%s' % self.fqdn)
        self.push('250-AUTH PLAIN')
        self.push('250 HELP')
    def smtp_AUTH(self, arg):
        mech, _, resp = arg.partition(' ')
        try:
            _, user, pw = base64.b64decode(resp).decode().split('\0')
        except Exception:
            self.push('501 5.5.2 bad AUTH'); return
        if mech.upper() == 'PLAIN' and user == USER and pw == PASS:
            self.authed = True
            print('AUTH OK %s' % user, flush=True)
            self.push('235 2.7.0 Authentication successful')
        else:
            print('AUTH FAILED %s' % user, flush=True)
            self.push('535 5.7.8 Authentication credentials invalid')
    def smtp_MAIL(self, arg):
        if not self.authed:
            self.push('530 5.7.0 Authentication required'); return
        super().smtp_MAIL(arg)
class Server(smtpd.SMTPServer):
    channel_class = Channel
    def process_message(self, peer, mailfrom, rcpttos, data, **kw):
        print('FROM %s TO %s' % (mailfrom, ','.join(rcpttos)))
        print(data.decode())
        print('END MESSAGE', flush=True)
Server((host, int(port)), None, decode_data=False)
asyncore.loop()
`

func TestSMTPSenderAuthenticates(t *testing.T) {
	script := filepath.Join(t.TempDir(), "authsmtp.py")
	if err := os.WriteFile(script, []byte(authServer), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, out := startSMTP(t, func(addr string) []string {
		return []string{"-u", "-W", "ignore", script, addr, "mailer", "s3cret"}
	})
	msg := auth.Message{Channel: "email", To: "bob@example.com", Subject: "Your Parley password reset code", Body: "code 777111"}

	bad := &auth.SMTPSender{Addr: addr, From: "parley@example.com", Username: "mailer", Password: "wrong"}
	if err := bad.Send(context.Background(), msg); err == nil || !strings.Contains(err.Error(), "535") {
		t.Fatalf("wrong password: err = %v, want the server's 535", err)
	}
	out.waitFor(t, "AUTH FAILED mailer")

	good := &auth.SMTPSender{Addr: addr, From: "parley@example.com", Username: "mailer", Password: "s3cret"}
	if err := good.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	got := out.waitFor(t, "END MESSAGE")
	for _, want := range []string{"AUTH OK mailer", "FROM parley@example.com TO bob@example.com", "Subject: Your Parley password reset code", "code 777111"} {
		if !strings.Contains(got, want) {
			t.Errorf("server output lacks %q:\n%s", want, got)
		}
	}
}

func TestSMTPSenderRefusesToSkipAuth(t *testing.T) {
	addr, _ := debuggingServer(t) // offers no AUTH
	s := &auth.SMTPSender{Addr: addr, From: "parley@example.com", Username: "mailer", Password: "x"}
	err := s.Send(context.Background(), auth.Message{Channel: "email", To: "ann@example.com", Subject: "s", Body: "b"})
	if err == nil || !strings.Contains(err.Error(), "no AUTH") {
		t.Fatalf("err = %v, want a refusal to send unauthenticated", err)
	}
}

func TestSMTPSenderChecksInput(t *testing.T) {
	s := &auth.SMTPSender{Addr: "127.0.0.1:1", From: "parley@example.com"}
	if err := s.Send(context.Background(), auth.Message{Channel: "sms", To: "+15550000000", Body: "1"}); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("SMS through SMTP: err = %v", err)
	}
	err := s.Send(context.Background(), auth.Message{Channel: "email", To: "ann@example.com\r\nBcc: eve@example.com", Body: "1"})
	if !errs.Is(err, errs.InvalidArgument) {
		t.Fatalf("header injection: err = %v", err)
	}
}

func TestLogSender(t *testing.T) {
	var buf syncBuffer
	s := &auth.LogSender{Log: slog.New(slog.NewTextHandler(&buf, nil))}
	if err := s.Send(context.Background(), auth.Message{Channel: "sms", To: "+15550000000", Body: "Parley sign-in code: 123456"}); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	for _, want := range []string{"level=INFO", "development sender", "to=+15550000000", "123456"} {
		if !strings.Contains(got, want) {
			t.Errorf("log %q lacks %q", got, want)
		}
	}
}

func TestNewSender(t *testing.T) {
	cfg := authtest.Config()
	if s, err := auth.NewSender(cfg, nil); err != nil {
		t.Fatal(err)
	} else if _, ok := s.(*auth.LogSender); !ok {
		t.Fatalf("default sender is %T", s)
	}
	cfg.Sender, cfg.SMTPAddr, cfg.SMTPFrom = "smtp", "127.0.0.1:25", "parley@example.com"
	if s, err := auth.NewSender(cfg, nil); err != nil {
		t.Fatal(err)
	} else if sm, ok := s.(*auth.SMTPSender); !ok || sm.Addr != cfg.SMTPAddr || sm.From != cfg.SMTPFrom {
		t.Fatalf("smtp sender = %#v", s)
	}
	cfg.Sender = "pigeon"
	if _, err := auth.NewSender(cfg, nil); err == nil {
		t.Fatal("unknown sender accepted")
	}
}
