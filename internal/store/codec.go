package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The file and Redis backends keep a value as one byte string: a version
// byte, the expiry as 8 bytes big-endian Unix nanoseconds (0: never), then
// Data. Big-endian non-negative integers compare bytewise like numbers,
// which the Redis scripts rely on.
const (
	codecVersion = 1
	headerLen    = 9
)

// errCorrupt is the cause when a stored byte string is not a value this
// package wrote.
var errCorrupt = errors.New("stored value is not in wxcloudenv's format")

// expiryNanos is the encoded form of an expiry: 0 for never, at least 1
// otherwise (an expiry at or before 1970 is long past anyway).
func expiryNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if n := t.UnixNano(); n > 0 {
		return n
	}
	return 1
}

func expiryTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// nowBytes is now as 8 bytes big-endian Unix nanoseconds.
func nowBytes(now time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(expiryNanos(now)))
}

func encode(v Value) []byte {
	b := make([]byte, headerLen, headerLen+len(v.Data))
	b[0] = codecVersion
	binary.BigEndian.PutUint64(b[1:], uint64(expiryNanos(v.Expires)))
	return append(b, v.Data...)
}

func decode(b []byte) (Value, error) {
	if len(b) < headerLen || b[0] != codecVersion {
		return Value{}, errCorrupt
	}
	n := int64(binary.BigEndian.Uint64(b[1:headerLen]))
	if n < 0 {
		return Value{}, errCorrupt
	}
	return Value{Data: append([]byte{}, b[headerLen:]...), Expires: expiryTime(n)}, nil
}

// opError is an I/O failure of a backend. Its text names the backend, the
// operation and the key (keys are never secret) and has every secret of the
// store URL removed; it wraps ErrUnavailable and the cause.
type opError struct {
	text  string
	cause error
}

func (e *opError) Error() string   { return e.text }
func (e *opError) Unwrap() []error { return []error{ErrUnavailable, e.cause} }

// unavailable wraps cause as an ErrUnavailable naming where and what,
// with secrets scrubbed from the text.
func unavailable(where, op, key string, cause error, secrets []string) error {
	var b strings.Builder
	b.WriteString("store: ")
	b.WriteString(where)
	b.WriteString(": ")
	b.WriteString(op)
	if key != "" {
		fmt.Fprintf(&b, " %q", key)
	}
	b.WriteString(": unavailable: ")
	b.WriteString(scrub(cause.Error(), secrets))
	return &opError{text: b.String(), cause: cause}
}

// scrub replaces every non-empty secret in s, and its URL-escaped forms.
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		for _, form := range secretForms(sec) {
			s = strings.ReplaceAll(s, form, "REDACTED")
		}
	}
	return s
}
