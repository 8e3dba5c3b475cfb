package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"math/big"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// CodeRequest asks for a one-time code sent to Email or to Phone (exactly one
// of them).
type CodeRequest struct {
	Email   string
	Phone   string
	Purpose Purpose
}

// CodeSignIn signs in with a one-time code sent to Email or Phone.
type CodeSignIn struct {
	Email string
	Phone string
	Code  string
}

// PasswordReset sets a new password with a one-time code of purpose
// PurposeReset sent to Email or Phone.
type PasswordReset struct {
	Email       string
	Phone       string
	Code        string
	NewPassword string
}

// address returns the channel ("email" or "sms") and the normalised address
// of a request that names an email or a phone.
func address(email, phone string) (channel, addr string, err error) {
	switch {
	case email != "" && phone != "":
		return "", "", errs.E(errs.InvalidArgument, "give an email or a phone, not both")
	case email != "":
		addr, err = NormalizeEmail(email)
		return "email", addr, err
	case phone != "":
		addr, err = NormalizePhone(phone)
		return "sms", addr, err
	}
	return "", "", errs.E(errs.InvalidArgument, "an email or a phone is required")
}

// RequestCode sends a one-time code for purpose to the account with the
// email or phone of req. The answer is the same whether or not such an
// account exists: the lookup, the storing and the sending happen in the
// background after RequestCode has returned, and failures are only logged.
// Requests count against the client IP's limit and against a limit per
// address (SignInPerAccount per SignInWindow), so that nobody can flood an
// inbox. A new code replaces the previous one of the same purpose and
// address.
func (s *Service) RequestCode(ctx context.Context, req CodeRequest, ip string) error {
	if req.Purpose != PurposeSignIn && req.Purpose != PurposeReset {
		return errs.E(errs.InvalidArgument, "purpose must be %q or %q", PurposeSignIn, PurposeReset)
	}
	channel, addr, err := address(req.Email, req.Phone)
	if err != nil {
		return err
	}
	if err := s.limit(ip, ""); err != nil {
		return err
	}
	if ok, wait := s.sendLimit.allow(addr, s.clock.Now()); !ok {
		return errs.RateLimit(wait, "too many codes requested for this address; retry in %s", roundUp(wait))
	}
	select {
	case s.sendSlots <- struct{}{}:
	case <-ctx.Done():
		return errs.Wrap(errs.Unavailable, ctx.Err(), "code delivery is busy")
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.sendSlots
		return errs.E(errs.ShuttingDown, "the server is shutting down")
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() { <-s.sendSlots }()
		ctx, cancel := context.WithTimeout(s.base, time.Minute)
		defer cancel()
		if err := s.deliverCode(ctx, req.Purpose, channel, addr); err != nil && s.base.Err() == nil {
			s.log.Error("auth: one-time code not delivered", "channel", channel, "purpose", req.Purpose, "err", err)
		}
	}()
	return nil
}

// deliverCode makes, stores and sends a code if addr belongs to an account.
func (s *Service) deliverCode(ctx context.Context, purpose Purpose, channel, addr string) error {
	var acct Account
	var err error
	if channel == "email" {
		acct, err = s.store.AccountByEmail(ctx, addr)
	} else {
		acct, err = s.store.AccountByPhone(ctx, addr)
	}
	if errs.Is(err, errs.NotFound) {
		s.log.Debug("auth: code requested for an address without account", "channel", channel, "purpose", purpose)
		return nil
	}
	if err != nil {
		return err
	}
	digits, err := newCode(s.cfg.CodeLength)
	if err != nil {
		return err
	}
	now := s.now()
	c := Code{
		ID:        core.NewID("c"),
		Purpose:   purpose,
		Address:   addr,
		UserID:    acct.ID,
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.CodeTTL),
	}
	c.Hash = codeHash(c.ID, purpose, addr, digits)
	if err := s.store.PutCode(ctx, c); err != nil {
		return err
	}
	return s.sender.Send(ctx, s.codeMessage(purpose, channel, addr, digits))
}

// codeMessage writes the message that carries a code.
func (s *Service) codeMessage(purpose Purpose, channel, to, digits string) Message {
	what := "sign-in"
	if purpose == PurposeReset {
		what = "password reset"
	}
	mins := int((s.cfg.CodeTTL + time.Minute - 1) / time.Minute)
	if channel == "sms" {
		return Message{Channel: channel, To: to, Body: fmt.Sprintf("Parley %s code: %s (expires in %d min)", what, digits, mins)}
	}
	return Message{
		Channel: channel,
		To:      to,
		Subject: fmt.Sprintf("Your Parley %s code", what),
		Body: fmt.Sprintf("Your Parley %s code is %s\n\nIt expires in %d minutes. "+
			"If you did not ask for it, you can ignore this message.\n", what, digits, mins),
	}
}

// newCode returns n uniformly random decimal digits.
func newCode(n int) (string, error) {
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
	v, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return "", errs.Wrap(errs.Internal, err, "auth: random code")
	}
	return fmt.Sprintf("%0*d", n, v.Int64()), nil
}

// codeHash binds the digits to the code's id, purpose and address.
func codeHash(id string, purpose Purpose, addr, digits string) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "parley-code\x00%s\x00%s\x00%s\x00%s", id, purpose, addr, digits)
	return h.Sum(nil)
}

// checkCode verifies digits against the code of purpose and addr and uses it
// up. Every call counts as one of the code's MaxCodeAttempts attempts before
// the digits are compared, so concurrent guesses cannot exceed the limit.
// Every failure is the same errs.BadCredentials, whether the code is wrong,
// expired, used up or was never sent.
func (s *Service) checkCode(ctx context.Context, purpose Purpose, addr, digits string) (Code, error) {
	bad := errs.E(errs.BadCredentials, "the code is wrong or has expired")
	c, err := s.store.AttemptCode(ctx, purpose, addr, s.now(), MaxCodeAttempts)
	if errs.Is(err, errs.NotFound) {
		return Code{}, bad
	}
	if err != nil {
		return Code{}, wrap(err, "auth: check code")
	}
	if subtle.ConstantTimeCompare(codeHash(c.ID, purpose, addr, digits), c.Hash) != 1 {
		return Code{}, bad
	}
	err = s.store.ConsumeCode(ctx, c.ID)
	if errs.Is(err, errs.NotFound) {
		return Code{}, bad // used concurrently
	}
	if err != nil {
		return Code{}, wrap(err, "auth: use code")
	}
	return c, nil
}

// SignInWithCode signs in the account a sign-in code was sent to.
func (s *Service) SignInWithCode(ctx context.Context, req CodeSignIn, ip string) (Tokens, error) {
	_, addr, err := address(req.Email, req.Phone)
	if err != nil {
		return Tokens{}, err
	}
	if err := s.limit(ip, addr); err != nil {
		return Tokens{}, err
	}
	c, err := s.checkCode(ctx, PurposeSignIn, addr, req.Code)
	if err != nil {
		return Tokens{}, err
	}
	u, err := s.store.UserByID(ctx, c.UserID)
	if err != nil {
		return Tokens{}, wrap(err, "auth: code sign-in")
	}
	return s.startSession(ctx, u)
}

// ResetPassword sets a new password with a reset code and revokes every
// sign-in session of the account, so that whoever knew the old password is
// signed out everywhere. It does not sign in.
func (s *Service) ResetPassword(ctx context.Context, req PasswordReset, ip string) error {
	_, addr, err := address(req.Email, req.Phone)
	if err != nil {
		return err
	}
	if err := s.checkPassword(req.NewPassword); err != nil {
		return err
	}
	if err := s.limit(ip, addr); err != nil {
		return err
	}
	c, err := s.checkCode(ctx, PurposeReset, addr, req.Code)
	if err != nil {
		return err
	}
	hash, err := s.hasher.hash(ctx, req.NewPassword)
	if err != nil {
		return err
	}
	if err := s.store.SetPasswordHash(ctx, c.UserID, hash); err != nil {
		return wrap(err, "auth: reset password")
	}
	s.log.Info("auth: password reset", "user", c.UserID)
	return s.revokeAll(ctx, c.UserID, "password reset")
}
