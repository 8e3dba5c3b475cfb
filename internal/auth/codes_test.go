package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/errs"
)

func TestCodeSignInByEmail(t *testing.T) {
	e := newEnv(t, func(c *config.AuthConfig) { c.CodeLength = 8 })
	ann := e.signUp(t, "ann@example.com", "ann").User
	ctx := context.Background()
	if err := e.svc.RequestCode(ctx, auth.CodeRequest{Email: "ANN@example.com", Purpose: auth.PurposeSignIn}, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	code := e.sender.WaitCode(t, 1, "ann@example.com")
	if len(code) != 8 {
		t.Fatalf("code %q has %d digits, want 8", code, len(code))
	}
	m := e.sender.Messages()[0]
	if m.Channel != "email" || !strings.Contains(m.Subject, "sign-in") {
		t.Fatalf("message = %+v", m)
	}
	tok, err := e.svc.SignInWithCode(ctx, auth.CodeSignIn{Email: "ann@example.com", Code: code}, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if tok.User.ID != ann.ID {
		t.Fatalf("signed in as %s, want %s", tok.User.ID, ann.ID)
	}
	if _, err := e.svc.Verify(tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	// Single use.
	_, err = e.svc.SignInWithCode(ctx, auth.CodeSignIn{Email: "ann@example.com", Code: code}, "192.0.2.1")
	wantErr(t, err, errs.BadCredentials)
}

func TestCodeSignInByPhone(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	up, err := e.svc.SignUp(ctx, auth.SignUpRequest{Email: "ann@example.com", Password: password, Handle: "ann", DisplayName: "Ann", Phone: "+447700900123"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RequestCode(ctx, auth.CodeRequest{Phone: "+44 7700 900123", Purpose: auth.PurposeSignIn}, ""); err != nil {
		t.Fatal(err)
	}
	code := e.sender.WaitCode(t, 1, "+447700900123")
	if m := e.sender.Messages()[0]; m.Channel != "sms" || len(code) != 6 {
		t.Fatalf("message = %+v, code %q", m, code)
	}
	// A code sent to the phone does not work for the email.
	_, err = e.svc.SignInWithCode(ctx, auth.CodeSignIn{Email: "ann@example.com", Code: code}, "")
	wantErr(t, err, errs.BadCredentials)
	tok, err := e.svc.SignInWithCode(ctx, auth.CodeSignIn{Phone: "+447700900123", Code: code}, "")
	if err != nil || tok.User.ID != up.User.ID {
		t.Fatalf("SignInWithCode = %+v, %v", tok.User, err)
	}
}

func TestCodeForUnknownAddressRevealsNothing(t *testing.T) {
	e := newEnv(t, nil)
	e.signUp(t, "ann@example.com", "ann")
	ctx := context.Background()
	known := e.svc.RequestCode(ctx, auth.CodeRequest{Email: "ann@example.com", Purpose: auth.PurposeSignIn}, "")
	unknown := e.svc.RequestCode(ctx, auth.CodeRequest{Email: "nobody@example.com", Purpose: auth.PurposeSignIn}, "")
	unknownPhone := e.svc.RequestCode(ctx, auth.CodeRequest{Phone: "+15550000000", Purpose: auth.PurposeReset}, "")
	if known != nil || unknown != nil || unknownPhone != nil {
		t.Fatalf("answers differ or fail: known %v, unknown %v, unknown phone %v", known, unknown, unknownPhone)
	}
	e.svc.Close() // waits for the deliveries in flight
	msgs := e.sender.Messages()
	if len(msgs) != 1 || msgs[0].To != "ann@example.com" {
		t.Fatalf("messages = %+v, want one to ann", msgs)
	}
	_, err := e.svc.SignInWithCode(ctx, auth.CodeSignIn{Email: "nobody@example.com", Code: "000000"}, "")
	wantErr(t, err, errs.BadCredentials)
}

func TestCodeRequestValidation(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for name, req := range map[string]auth.CodeRequest{
		"no purpose":   {Email: "ann@example.com"},
		"bad purpose":  {Email: "ann@example.com", Purpose: "delete"},
		"no address":   {Purpose: auth.PurposeSignIn},
		"both":         {Email: "ann@example.com", Phone: "+15550000000", Purpose: auth.PurposeSignIn},
		"bad phone":    {Phone: "555", Purpose: auth.PurposeSignIn},
		"bad email":    {Email: "ann", Purpose: auth.PurposeSignIn},
		"named e-mail": {Email: "Ann <ann@example.com>", Purpose: auth.PurposeSignIn},
	} {
		if err := e.svc.RequestCode(ctx, req, ""); !errs.Is(err, errs.InvalidArgument) {
			t.Errorf("%s: err = %v, want invalid_argument", name, err)
		}
	}
}

func TestCodeRequestsPerAddressAreLimited(t *testing.T) {
	e := newEnv(t, func(c *config.AuthConfig) { c.SignInPerAccount = 2 })
	ctx := context.Background()
	req := auth.CodeRequest{Email: "ann@example.com", Purpose: auth.PurposeSignIn}
	for range 2 {
		if err := e.svc.RequestCode(ctx, req, ""); err != nil {
			t.Fatal(err)
		}
	}
	err := e.svc.RequestCode(ctx, req, "")
	wantErr(t, err, errs.RateLimited)
	if errs.RetryAfterOf(err) <= 0 {
		t.Fatal("no retry_after")
	}
}

func TestCodeExpires(t *testing.T) {
	e := newEnv(t, nil)
	e.signUp(t, "ann@example.com", "ann")
	ctx := context.Background()
	if err := e.svc.RequestCode(ctx, auth.CodeRequest{Email: "ann@example.com", Purpose: auth.PurposeSignIn}, ""); err != nil {
		t.Fatal(err)
	}
	code := e.sender.WaitCode(t, 1, "ann@example.com")
	e.clock.Advance(e.cfg.CodeTTL)
	_, err := e.svc.SignInWithCode(ctx, auth.CodeSignIn{Email: "ann@example.com", Code: code}, "")
	wantErr(t, err, errs.BadCredentials)

	// A code used just before it expires works.
	if err := e.svc.RequestCode(ctx, auth.CodeRequest{Email: "ann@example.com", Purpose: auth.PurposeSignIn}, ""); err != nil {
		t.Fatal(err)
	}
	code = e.sender.WaitCode(t, 2, "ann@example.com")
	e.clock.Advance(e.cfg.CodeTTL - time.Second)
	if _, err := e.svc.SignInWithCode(ctx, auth.CodeSignIn{Email: "ann@example.com", Code: code}, ""); err != nil {
		t.Fatal(err)
	}
}

func TestCodeAttemptLimit(t *testing.T) {
	e := newEnv(t, nil)
	e.signUp(t, "ann@example.com", "ann")
	ctx := context.Background()
	if err := e.svc.RequestCode(ctx, auth.CodeRequest{Email: "ann@example.com", Purpose: auth.PurposeSignIn}, ""); err != nil {
		t.Fatal(err)
	}
	code := e.sender.WaitCode(t, 1, "ann@example.com")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for i := range auth.MaxCodeAttempts {
		_, err := e.svc.SignInWithCode(ctx, auth.CodeSignIn{Email: "ann@example.com", Code: wrong}, "")
		if !errs.Is(err, errs.BadCredentials) {
			t.Fatalf("wrong guess %d: %v", i+1, err)
		}
	}
	_, err := e.svc.SignInWithCode(ctx, auth.CodeSignIn{Email: "ann@example.com", Code: code}, "")
	wantErr(t, err, errs.BadCredentials)

	// A new code starts with fresh attempts.
	if err := e.svc.RequestCode(ctx, auth.CodeRequest{Email: "ann@example.com", Purpose: auth.PurposeSignIn}, ""); err != nil {
		t.Fatal(err)
	}
	code = e.sender.WaitCode(t, 2, "ann@example.com")
	if _, err := e.svc.SignInWithCode(ctx, auth.CodeSignIn{Email: "ann@example.com", Code: code}, ""); err != nil {
		t.Fatal(err)
	}
}

func TestPasswordReset(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	first := e.signUp(t, "ann@example.com", "ann")
	second, err := e.svc.SignIn(ctx, "ann@example.com", password, "")
	if err != nil {
		t.Fatal(err)
	}
	other := e.signUp(t, "bob@example.com", "bob")
	if _, err := e.svc.Verify(first.AccessToken); err != nil { // cached from now on
		t.Fatal(err)
	}
	if err := e.svc.RequestCode(ctx, auth.CodeRequest{Email: "ann@example.com", Purpose: auth.PurposeReset}, ""); err != nil {
		t.Fatal(err)
	}
	code := e.sender.WaitCode(t, 1, "ann@example.com")
	if m := e.sender.Messages()[0]; !strings.Contains(m.Subject, "password reset") {
		t.Fatalf("subject %q", m.Subject)
	}
	// A reset code does not sign in.
	_, err = e.svc.SignInWithCode(ctx, auth.CodeSignIn{Email: "ann@example.com", Code: code}, "")
	wantErr(t, err, errs.BadCredentials)
	// A too short new password is refused without using the code up.
	err = e.svc.ResetPassword(ctx, auth.PasswordReset{Email: "ann@example.com", Code: code, NewPassword: "short"}, "")
	wantErr(t, err, errs.InvalidArgument)

	const newPassword = "a much better password"
	if err := e.svc.ResetPassword(ctx, auth.PasswordReset{Email: "ann@example.com", Code: code, NewPassword: newPassword}, ""); err != nil {
		t.Fatal(err)
	}
	err = e.svc.ResetPassword(ctx, auth.PasswordReset{Email: "ann@example.com", Code: code, NewPassword: "yet another password"}, "")
	wantErr(t, err, errs.BadCredentials) // single use

	_, err = e.svc.SignIn(ctx, "ann@example.com", password, "")
	wantErr(t, err, errs.BadCredentials)
	if _, err := e.svc.SignIn(ctx, "ann@example.com", newPassword, ""); err != nil {
		t.Fatal(err)
	}
	// Every earlier session of the account is revoked; others are not.
	for _, tok := range []auth.Tokens{first, second} {
		_, err := e.svc.Refresh(ctx, tok.RefreshToken)
		wantErr(t, err, errs.Revoked)
		_, err = e.svc.Verify(tok.AccessToken)
		wantErr(t, err, errs.Revoked)
	}
	if _, err := e.svc.Verify(other.AccessToken); err != nil {
		t.Fatal(err)
	}
	if got := e.hooked(); len(got) != 2 || !(got[0] == first.SessionID && got[1] == second.SessionID || got[1] == first.SessionID && got[0] == second.SessionID) {
		t.Fatalf("OnRevoke saw %v, want both sessions of ann", got)
	}
}
