package eventlog

import (
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/errs"
)

func TestStampTime(t *testing.T) {
	in := time.Date(2024, 1, 2, 3, 4, 5, 678901234, time.FixedZone("X", -3*3600))
	got := StampTime(in)
	want := time.Date(2024, 1, 2, 6, 4, 5, 678901000, time.UTC)
	if got != want {
		t.Fatalf("StampTime = %v (%v), want %v", got, got.Location(), want)
	}
	before := time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC)
	if got := StampTime(before); got != time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC) {
		t.Fatalf("StampTime before the epoch = %v", got)
	}
	if now := StampTime(time.Time{}); time.Since(now) > time.Minute || now.Location() != time.UTC {
		t.Fatalf("StampTime(zero) = %v, want now in UTC", now)
	}
}

func TestReadLimit(t *testing.T) {
	for in, want := range map[int]int{-5: DefaultReadLimit, 0: DefaultReadLimit, 1: 1, 50000: 50000} {
		if got := ReadLimit(in); got != want {
			t.Fatalf("ReadLimit(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestConflictError(t *testing.T) {
	err := ConflictError("room:x", 3, 7)
	if !errs.Is(err, errs.Conflict) || !strings.Contains(err.Error(), "room:x is at sequence 7, not 3") {
		t.Fatalf("ConflictError = %v", err)
	}
}

func TestValidateText(t *testing.T) {
	ok := AppendRequest{Stream: "room:a", Key: "ké", Events: []Draft{{Type: "t", Actor: "ü"}}}
	if err := Validate(&ok); err != nil {
		t.Fatalf("valid request: %v", err)
	}
	for _, r := range []AppendRequest{
		{Stream: "room:a", Key: "\xff", Events: []Draft{{Type: "t"}}},
		{Stream: "room:a", Key: "a\x00", Events: []Draft{{Type: "t"}}},
		{Stream: "room:a", Events: []Draft{{Type: "t\xfe"}}},
		{Stream: "room:a", Events: []Draft{{Type: "t", Actor: "\x00"}}},
	} {
		if err := Validate(&r); !errs.Is(err, errs.InvalidArgument) {
			t.Fatalf("Validate(%+v) = %v, want invalid_argument", r, err)
		}
	}
}
