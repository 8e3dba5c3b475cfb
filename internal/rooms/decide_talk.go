package rooms

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

func (c *call) comment() (decision, error) {
	b, in := c.b, c.in
	if err := c.allowPresent(ActComment); err != nil {
		return decision{}, err
	}
	if err := b.requireLive(); err != nil {
		return decision{}, err
	}
	if !utf8.ValidString(in.Text) {
		return decision{}, errs.E(errs.InvalidArgument, "text is not valid UTF-8")
	}
	t := trimSpace(in.Text)
	if t == "" {
		return decision{}, errs.E(errs.InvalidArgument, "text is required")
	}
	if len(t) > b.lim.MaxComment {
		return decision{}, errs.E(errs.LimitExceeded, "a comment is at most %d bytes", b.lim.MaxComment)
	}
	var meta json.RawMessage
	if len(in.Meta) > 0 && !bytes.Equal(in.Meta, []byte("null")) {
		if len(in.Meta) > b.lim.MaxCommentMeta {
			return decision{}, errs.E(errs.LimitExceeded, "meta is at most %d bytes", b.lim.MaxCommentMeta)
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(in.Meta, &obj) != nil {
			return decision{}, errs.E(errs.InvalidArgument, "meta must be a JSON object")
		}
		var buf bytes.Buffer
		if json.Compact(&buf, in.Meta) != nil {
			return decision{}, errs.E(errs.InvalidArgument, "meta must be a JSON object")
		}
		meta = buf.Bytes()
	}
	if !Can(b.authRole(c.user), ActCommentExempt) {
		if b.settings.CommentsOff {
			return decision{}, errs.E(errs.Forbidden, "comments are off")
		}
		if s := b.settings.SlowMode; s > 0 {
			if last, ok := b.lastComment[c.user]; ok {
				if wait := last.Add(time.Duration(s) * time.Second).Sub(c.now); wait > 0 {
					return decision{}, errs.RateLimit(wait, "slow mode: one comment every %d seconds", s)
				}
			}
		}
	}
	bk := bucket{}
	if cur := b.commentBucket[c.user]; cur != nil {
		bk = *cur
	}
	if ok, wait := bk.take(c.now, b.lim.CommentRate, b.lim.CommentBurst, 1); !ok {
		return decision{}, errs.RateLimit(wait, "too many comments")
	}
	n := b.nComments + 1
	d := events(c.event(EvComment, CommentData{N: n, Text: t, Meta: meta}))
	d.Reply = map[string]any{"comment": n}
	return d, nil
}

func trimSpace(s string) string {
	return string(bytes.TrimSpace([]byte(s)))
}

func (c *call) liveComment() (*comment, error) {
	cm := c.b.comments[c.in.Comment]
	if cm == nil || cm.deleted {
		return nil, errs.E(errs.NotFound, "no comment %d", c.in.Comment)
	}
	return cm, nil
}

func (c *call) deleteComment() (decision, error) {
	cm, err := c.liveComment()
	if err != nil {
		return decision{}, err
	}
	a := ActDeleteAny
	if cm.author == c.user {
		a = ActDeleteOwn
	}
	if err := c.allow(a); err != nil {
		return decision{}, err
	}
	if a == ActDeleteOwn && !c.b.present(c.user) {
		return decision{}, errs.E(errs.Forbidden, "join the room first")
	}
	return events(c.event(EvCommentDeleted, CommentRef{N: c.in.Comment})), nil
}

func (c *call) pin() (decision, error) {
	if err := c.allow(ActPin); err != nil {
		return decision{}, err
	}
	cm, err := c.liveComment()
	if err != nil {
		return decision{}, err
	}
	if c.b.pinned == c.in.Comment {
		return reply(struct{}{}), nil
	}
	return events(c.event(EvPinned, Pinned{N: c.in.Comment, Text: cm.text, Author: cm.author})), nil
}

func (c *call) unpin() (decision, error) {
	if err := c.allow(ActPin); err != nil {
		return decision{}, err
	}
	if c.b.pinned == 0 {
		return reply(struct{}{}), nil
	}
	return events(c.event(EvUnpinned, CommentRef{N: c.b.pinned})), nil
}

func (c *call) settings() (decision, error) {
	b, in := c.b, c.in
	s := b.settings
	if in.SlowMode == nil && in.CommentsOff == nil && in.OpenStage == nil {
		return decision{}, errs.E(errs.InvalidArgument, "slow_mode, comments_off or open_stage is required")
	}
	if in.SlowMode != nil || in.CommentsOff != nil {
		if err := c.allow(ActSettings); err != nil {
			return decision{}, err
		}
	}
	if in.OpenStage != nil {
		if err := c.allow(ActOpenStage); err != nil {
			return decision{}, err
		}
		s.OpenStage = *in.OpenStage
	}
	if in.SlowMode != nil {
		if *in.SlowMode < 0 || time.Duration(*in.SlowMode)*time.Second > b.lim.MaxSlowMode {
			return decision{}, errs.E(errs.InvalidArgument, "slow_mode is 0 to %d seconds", int(b.lim.MaxSlowMode/time.Second))
		}
		s.SlowMode = *in.SlowMode
	}
	if in.CommentsOff != nil {
		s.CommentsOff = *in.CommentsOff
	}
	if s == b.settings {
		return reply(s), nil
	}
	d := events(c.event(EvSettings, s))
	d.Reply = s
	return d, nil
}

func (c *call) react() (decision, error) {
	b, in := c.b, c.in
	if err := c.allowPresent(ActReact); err != nil {
		return decision{}, err
	}
	if err := b.requireLive(); err != nil {
		return decision{}, err
	}
	if !slices.Contains(b.lim.Reactions, in.Emoji) {
		return decision{}, errs.E(errs.InvalidArgument, "emoji must be one of %v", b.lim.Reactions)
	}
	n := in.Count
	if n == 0 {
		n = 1
	}
	if n < 0 || n > b.lim.MaxReactionBatch {
		return decision{}, errs.E(errs.InvalidArgument, "count is 1 to %d", b.lim.MaxReactionBatch)
	}
	bk := b.v.reactBucket[c.user]
	if bk == nil {
		bk = &bucket{}
		b.v.reactBucket[c.user] = bk
	}
	if ok, wait := bk.take(c.now, b.lim.ReactionRate, b.lim.ReactionBurst, float64(n)); !ok {
		return decision{}, errs.RateLimit(wait, "too many reactions")
	}
	b.v.pendReact[in.Emoji] += int64(n)
	return reply(struct{}{}), nil
}

func (c *call) pollOpen() (decision, error) {
	b, in := c.b, c.in
	if err := c.allow(ActPoll); err != nil {
		return decision{}, err
	}
	if err := b.requireLive(); err != nil {
		return decision{}, err
	}
	q, err := text("question", in.Question, 1, b.lim.MaxPollQuestion)
	if err != nil {
		return decision{}, err
	}
	if len(in.Options) < 2 || len(in.Options) > b.lim.MaxPollOptions {
		return decision{}, errs.E(errs.InvalidArgument, "a poll has 2 to %d options", b.lim.MaxPollOptions)
	}
	opts := make([]string, len(in.Options))
	for i, o := range in.Options {
		if opts[i], err = text("option", o, 1, b.lim.MaxPollOption); err != nil {
			return decision{}, err
		}
		if slices.Contains(opts[:i], opts[i]) {
			return decision{}, errs.E(errs.InvalidArgument, "option %q appears twice", opts[i])
		}
	}
	var closes *time.Time
	if in.Duration != 0 {
		d := time.Duration(in.Duration) * time.Second
		if d < 5*time.Second || d > b.lim.MaxPollDuration {
			return decision{}, errs.E(errs.InvalidArgument, "duration is 5 to %d seconds", int(b.lim.MaxPollDuration/time.Second))
		}
		t := c.now.Add(d)
		closes = &t
	}
	open := 0
	for _, p := range b.polls {
		if p.closedAt == nil {
			open++
		}
	}
	if open >= b.lim.MaxOpenPolls {
		return decision{}, errs.E(errs.LimitExceeded, "at most %d open polls", b.lim.MaxOpenPolls)
	}
	n := len(b.polls) + 1
	d := events(c.event(EvPollOpened, PollOpened{Poll: n, Question: q, Options: opts, ClosesAt: closes}))
	d.Reply = map[string]any{"poll": n}
	return d, nil
}

func (c *call) openPoll() (*poll, error) {
	p := c.b.poll(c.in.Poll)
	if p == nil {
		return nil, errs.E(errs.NotFound, "no poll %d", c.in.Poll)
	}
	if p.closedAt != nil || (p.closesAt != nil && !c.now.Before(*p.closesAt)) {
		return nil, errs.E(errs.Closed, "poll %d is closed", p.n)
	}
	return p, nil
}

func (c *call) vote() (decision, error) {
	b := c.b
	if err := c.allowPresent(ActVote); err != nil {
		return decision{}, err
	}
	p, err := c.openPoll()
	if err != nil {
		return decision{}, err
	}
	if c.in.Option == nil || *c.in.Option < 0 || *c.in.Option >= len(p.options) {
		return decision{}, errs.E(errs.InvalidArgument, "option is 0 to %d", len(p.options)-1)
	}
	if b.votedView(p, c.user) {
		return decision{}, errs.E(errs.AlreadyExists, "you already voted in poll %d", p.n)
	}
	vb := b.v.pendVotes[p.n]
	if vb == nil {
		vb = &voteBatch{seen: map[core.UserID]bool{}, counts: make([]int64, len(p.options))}
		b.v.pendVotes[p.n] = vb
	}
	vb.voters = append(vb.voters, c.user)
	vb.seen[c.user] = true
	vb.counts[*c.in.Option]++
	return reply(map[string]any{"poll": p.n, "option": *c.in.Option}), nil
}

func (c *call) pollClose() (decision, error) {
	b := c.b
	if err := c.allow(ActPoll); err != nil {
		return decision{}, err
	}
	p, err := c.openPoll()
	if err != nil {
		return decision{}, err
	}
	totals := b.pollTotalsView(p)
	d := events(c.event(EvPollClosed, PollClosed{Poll: p.n, Totals: totals, Reason: "closed"}))
	d.Reply = map[string]any{"poll": p.n, "totals": totals}
	return d, nil
}
