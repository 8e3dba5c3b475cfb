package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/errs"
)

// Message is a one-time code message.
type Message struct {
	Channel string // "email" or "sms"
	To      string // an email address or an E.164 phone number
	Subject string // empty for SMS
	Body    string
}

// Sender delivers one-time code messages. Implementations must be safe for
// concurrent use.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// NewSender returns the sender cfg.Sender names: "log" (the default) or
// "smtp".
func NewSender(cfg config.AuthConfig, log *slog.Logger) (Sender, error) {
	switch cfg.Sender {
	case "", "log":
		return &LogSender{Log: log}, nil
	case "smtp":
		return &SMTPSender{Addr: cfg.SMTPAddr, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword, From: cfg.SMTPFrom}, nil
	}
	return nil, errs.E(errs.InvalidArgument, "auth: unknown sender %q", cfg.Sender)
}

// LogSender is the development sender: it delivers nothing and logs each
// message, code included, at info level instead. It is safe for concurrent
// use.
type LogSender struct {
	Log *slog.Logger
}

// Send logs m.
func (l *LogSender) Send(ctx context.Context, m Message) error {
	log := l.Log
	if log == nil {
		log = slog.Default()
	}
	log.InfoContext(ctx, "development sender: one-time code message NOT delivered, logged here instead (configure auth.sender=smtp to send email)",
		"channel", m.Channel, "to", m.To, "subject", m.Subject, "body", m.Body)
	return nil
}

// SMTPSender sends email through an SMTP server. It upgrades the connection
// with STARTTLS when the server offers it and authenticates with PLAIN when
// Username is set (net/smtp refuses to send a password over an unencrypted
// connection to anything but localhost). It delivers email only: an SMS
// message fails. It is safe for concurrent use: each message uses its own
// connection.
type SMTPSender struct {
	Addr     string // host:port
	Username string
	Password string
	From     string
	// TLSConfig is used for STARTTLS; nil verifies the certificate against
	// the host of Addr.
	TLSConfig *tls.Config
	// Timeout bounds one delivery when ctx has no earlier deadline; zero
	// means 30 seconds.
	Timeout time.Duration
}

// Send delivers m.
func (s *SMTPSender) Send(ctx context.Context, m Message) (err error) {
	if m.Channel != "email" {
		return errs.E(errs.Unavailable, "auth: the SMTP sender cannot deliver %q messages", m.Channel)
	}
	if strings.ContainsAny(m.To+m.Subject+s.From, "\r\n") {
		return errs.E(errs.InvalidArgument, "auth: line break in a mail header")
	}
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return errs.Wrap(errs.InvalidArgument, err, "auth: smtp address")
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("smtp: dial %s: %w", s.Addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp: greeting: %w", err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := s.TLSConfig
		if cfg == nil {
			cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("smtp: starttls: %w", err)
		}
	}
	if s.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("smtp: a username is set but %s offers no AUTH", s.Addr)
		}
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return fmt.Errorf("smtp: auth: %w", err)
		}
	}
	if err := c.Mail(s.From); err != nil {
		return fmt.Errorf("smtp: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("smtp: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp: DATA: %w", err)
	}
	if _, err := w.Write(s.format(m)); err != nil {
		return fmt.Errorf("smtp: write message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp: end of message: %w", err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("smtp: QUIT: %w", err)
	}
	return nil
}

// format writes m as an RFC 5322 message with a quoted-printable UTF-8 body.
func (s *SMTPSender) format(m Message) []byte {
	var id [12]byte
	_, _ = rand.Read(id[:])
	domain := "parley"
	if at := strings.LastIndexByte(s.From, '@'); at >= 0 {
		domain = s.From[at+1:]
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", s.From)
	fmt.Fprintf(&b, "To: %s\r\n", m.To)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", m.Subject))
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(id[:]), domain)
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")))
	_ = qp.Close()
	b.WriteString("\r\n")
	return b.Bytes()
}
