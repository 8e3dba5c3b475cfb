package bus

import (
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parleyhq/parley/internal/errs"
)

// wrongLastSeq reports whether err is JetStream's answer to a publish whose
// expected last sequence did not match: code 10071 on a single replica,
// 10164 on a replicated stream. It is how compare-and-set conflicts show.
func wrongLastSeq(err error) bool {
	var api *jetstream.APIError
	if !errors.As(err, &api) {
		return false
	}
	return api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// wrapJS classifies an error from the NATS client by its error values and
// API error codes (never by message text) and wraps it with message. Errors
// the caller can act on get their own code; a JetStream API error with a
// 4xx status that is not one of them means Parley asked for something the
// server refuses (a bug or a configuration mismatch) and is Internal; every
// other failure (timeouts, no responders, lost connection, 5xx) is
// Unavailable, to be retried later.
func wrapJS(err error, message string) error {
	if err == nil {
		return nil
	}
	var code errs.Code
	var api *jetstream.APIError
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted),
		errors.Is(err, jetstream.ErrMsgNotFound), errors.Is(err, jetstream.ErrBucketNotFound),
		errors.Is(err, jetstream.ErrStreamNotFound), errors.Is(err, jetstream.ErrConsumerNotFound):
		code = errs.NotFound
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		code = errs.Conflict
	case errors.Is(err, jetstream.ErrInvalidKey), errors.Is(err, jetstream.ErrInvalidBucketName),
		errors.Is(err, jetstream.ErrHistoryTooLarge), errors.Is(err, jetstream.ErrInvalidStreamName),
		errors.Is(err, jetstream.ErrInvalidConsumerName), errors.Is(err, jetstream.ErrInvalidSubject):
		code = errs.InvalidArgument
	case errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum), errors.Is(err, jetstream.ErrMaxBytesExceeded):
		code = errs.LimitExceeded
	case errors.As(err, &api) && api.Code >= 400 && api.Code < 500:
		code = errs.Internal
	default:
		code = errs.Unavailable
	}
	return errs.Wrap(code, err, message)
}
