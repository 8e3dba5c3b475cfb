package auth

import (
	"context"
	"net/netip"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// MaxUsersPerLookup bounds the ids of one Users call.
const MaxUsersPerLookup = 1000

// SignUpRequest is what a new account needs. Phone is optional.
type SignUpRequest struct {
	Email       string
	Password    string
	Handle      string
	DisplayName string
	Phone       string
	AvatarURL   string
}

// limit counts one attempt against the client IP and, if account is not
// empty, against the account (an email or phone), and fails with
// errs.RateLimited if either is over its limit. Every attempt counts,
// successful or not: counting only failures would let an attacker who knows
// one password probe others from the same IP, and real users rarely sign in
// more than a few times a minute.
func (s *Service) limit(ip, account string) error {
	now := s.clock.Now()
	if ip != "" {
		if ok, wait := s.ipLimit.allow(ipKey(ip), now); !ok {
			return errs.RateLimit(wait, "too many attempts from this network; retry in %s", roundUp(wait))
		}
	}
	if account != "" {
		if ok, wait := s.acctLimit.allow(account, now); !ok {
			return errs.RateLimit(wait, "too many attempts for this account; retry in %s", roundUp(wait))
		}
	}
	return nil
}

// ipKey is the rate-limit key of a client IP: the address itself for IPv4,
// its /64 network for IPv6, since one subscriber usually holds a whole /64.
func ipKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

func roundUp(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}

// SignUp creates an account and signs it in. ip is the client address, for
// rate limiting. A taken email, handle or phone fails with errs.AlreadyExists
// naming the field.
func (s *Service) SignUp(ctx context.Context, req SignUpRequest, ip string) (Tokens, error) {
	var u User
	var err error
	if u.Email, err = NormalizeEmail(req.Email); err != nil {
		return Tokens{}, err
	}
	if u.Handle, err = NormalizeHandle(req.Handle); err != nil {
		return Tokens{}, err
	}
	if u.DisplayName, err = NormalizeDisplayName(req.DisplayName); err != nil {
		return Tokens{}, err
	}
	if req.Phone != "" {
		if u.Phone, err = NormalizePhone(req.Phone); err != nil {
			return Tokens{}, err
		}
	}
	if u.AvatarURL, err = NormalizeAvatarURL(req.AvatarURL); err != nil {
		return Tokens{}, err
	}
	if err := s.checkPassword(req.Password); err != nil {
		return Tokens{}, err
	}
	if err := s.limit(ip, ""); err != nil {
		return Tokens{}, err
	}
	hash, err := s.hasher.hash(ctx, req.Password)
	if err != nil {
		return Tokens{}, err
	}
	u.ID = core.UserID(core.NewID("u"))
	u.CreatedAt = s.now()
	if err := s.store.CreateUser(ctx, u, hash); err != nil {
		return Tokens{}, wrap(err, "auth: sign up")
	}
	s.log.Info("auth: account created", "user", u.ID)
	return s.startSession(ctx, u)
}

// SignIn checks an email and password and starts a sign-in session. A wrong
// email or password fails with errs.BadCredentials, the same way and after
// the same work for both, so that the answer does not tell which accounts
// exist.
func (s *Service) SignIn(ctx context.Context, email, password, ip string) (Tokens, error) {
	addr, err := NormalizeEmail(email)
	if err != nil {
		return Tokens{}, errs.E(errs.BadCredentials, "email or password is wrong")
	}
	if err := s.limit(ip, addr); err != nil {
		return Tokens{}, err
	}
	acct, err := s.store.AccountByEmail(ctx, addr)
	found := err == nil
	if err != nil && !errs.Is(err, errs.NotFound) {
		return Tokens{}, wrap(err, "auth: sign in")
	}
	hash := acct.PasswordHash
	if !found {
		if hash, err = s.dummy(ctx); err != nil {
			return Tokens{}, err
		}
	}
	ok, err := s.hasher.verify(ctx, password, hash)
	if err != nil {
		return Tokens{}, err
	}
	if !ok || !found {
		return Tokens{}, errs.E(errs.BadCredentials, "email or password is wrong")
	}
	return s.startSession(ctx, acct.User)
}

// dummy returns a hash to check passwords of unknown accounts against, so
// that they cost as much as known ones.
func (s *Service) dummy(ctx context.Context) (string, error) {
	s.dummyMu.Lock()
	defer s.dummyMu.Unlock()
	if s.dummyHash == "" {
		h, err := s.hasher.hash(ctx, "parley: no such account")
		if err != nil {
			return "", err
		}
		s.dummyHash = h
	}
	return s.dummyHash, nil
}

// User returns the user id, or an errs.NotFound error.
func (s *Service) User(ctx context.Context, id core.UserID) (User, error) {
	u, err := s.store.UserByID(ctx, id)
	if err != nil {
		return User{}, wrap(err, "auth: user")
	}
	return u, nil
}

// Users returns the users among ids that exist, in the order of ids, once
// each. At most MaxUsersPerLookup ids may be asked for at once.
func (s *Service) Users(ctx context.Context, ids []core.UserID) ([]User, error) {
	if len(ids) > MaxUsersPerLookup {
		return nil, errs.E(errs.InvalidArgument, "at most %d users per lookup", MaxUsersPerLookup)
	}
	if len(ids) == 0 {
		return []User{}, nil
	}
	found, err := s.store.UsersByID(ctx, ids)
	if err != nil {
		return nil, wrap(err, "auth: users")
	}
	byID := make(map[core.UserID]User, len(found))
	for _, u := range found {
		byID[u.ID] = u
	}
	out := make([]User, 0, len(found))
	for _, id := range ids {
		if u, ok := byID[id]; ok {
			out = append(out, u)
			delete(byID, id)
		}
	}
	return out, nil
}

// UpdateProfile changes the display name, handle or avatar URL of a user
// (the fields of p that are not nil) and returns the updated user. A taken
// handle fails with errs.AlreadyExists.
func (s *Service) UpdateProfile(ctx context.Context, id core.UserID, p ProfileUpdate) (User, error) {
	if p.DisplayName != nil {
		v, err := NormalizeDisplayName(*p.DisplayName)
		if err != nil {
			return User{}, err
		}
		p.DisplayName = &v
	}
	if p.Handle != nil {
		v, err := NormalizeHandle(*p.Handle)
		if err != nil {
			return User{}, err
		}
		p.Handle = &v
	}
	if p.AvatarURL != nil {
		v, err := NormalizeAvatarURL(*p.AvatarURL)
		if err != nil {
			return User{}, err
		}
		p.AvatarURL = &v
	}
	u, err := s.store.UpdateProfile(ctx, id, p)
	if err != nil {
		return User{}, wrap(err, "auth: update profile")
	}
	if fn := s.onProfile.Load(); fn != nil {
		(*fn)(u)
	}
	return u, nil
}
