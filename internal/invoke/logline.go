package invoke

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wxcloudenv/wxcloudenv/internal/emf"
)

// lineWriter is the writer of a Handler's log lines: the JSON handler's
// and the summary lines appended by hand (appendEventLine) take turns
// through its lock, one whole line per Write.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (lw *lineWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.Write(p)
}

// linePool keeps the buffers of the lines appended by hand.
var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// maxPooledLine is the largest buffer put back in linePool.
const maxPooledLine = 16 << 10

// writeLine writes b, a whole line, to lw and gives b's buffer back to
// the pool.
func (lw *lineWriter) writeLine(bp *[]byte, b []byte) {
	_, _ = lw.Write(b)
	if cap(b) <= maxPooledLine {
		*bp = b[:0]
		linePool.Put(bp)
	}
}

// summary is what the invocation's summary line says, the same whichever
// way it is written (by hand, or through slog for a Logger the Handler
// did not build).
type summary struct {
	now      time.Time // the line's time
	level    slog.Level
	duration time.Duration // since the invocation started
	status   int
	failure  string // scrubbed
	fn       string // the function's name, for the EMF dimension
	m        emf.Metrics
}

// appendEventLine appends the invocation's summary line (with its
// newline) as log/slog's JSON handler writes the attributes of eventAttrs:
// the same members in the same order.
func (inv *invocation) appendEventLine(b []byte, ev *Event, s summary) []byte {
	b = append(b, `{"time":"`...)
	b = appendTime(b, s.now, false)
	b = append(b, `","level":`...)
	b = appendLogString(b, s.level.String())
	b = append(b, `,"msg":"invocation"`...)
	b = inv.appendBase(b, s.status, s.duration)
	b = append(b, `,"ok":`...)
	b = strconv.AppendBool(b, ev.OK)
	if len(ev.Results) > 0 {
		b = append(b, `,"operations":{`...)
		for i := range ev.Results {
			r := &ev.Results[i]
			if i > 0 {
				b = append(b, ',')
			}
			// slog writes a group with an empty key inline.
			if r.Operation != "" {
				b = appendLogString(b, r.Operation)
				b = append(b, ":{"...)
			}
			b = appendOperation(b, r)
			if r.Operation != "" {
				b = append(b, '}')
			}
		}
		b = append(b, '}')
	}
	logged := ev.Alerts
	if len(logged) > maxLoggedAlerts {
		logged = logged[:maxLoggedAlerts]
	}
	b = append(b, `,"alerts_total":`...)
	b = strconv.AppendInt(b, int64(len(ev.Alerts)), 10)
	b = append(b, `,"alerts":`...)
	b = appendLogJSON(b, logged, len(logged) == 0)
	if ev.Changes != nil {
		b = append(b, `,"changes":`...)
		b = strconv.AppendInt(b, int64(len(ev.Changes)), 10)
	}
	if ev.Notifications != nil {
		b = append(b, `,"notifications":`...)
		b = appendLogJSON(b, ev.Notifications, false)
	}
	if s.failure != "" {
		b = append(b, `,"error":`...)
		b = appendLogString(b, s.failure)
	}
	b = append(b, ',')
	b = emf.AppendJSON(b, s.fn, inv.stamp, s.m)
	return append(b, "}\n"...)
}

// appendBase appends the members of baseAttrs.
func (inv *invocation) appendBase(b []byte, status int, d time.Duration) []byte {
	b = append(b, `,"request_id":`...)
	b = appendLogString(b, inv.requestID)
	b = append(b, `,"platform":`...)
	b = appendLogString(b, inv.h.Platform)
	if inv.req != nil {
		b = append(b, `,"trigger":`...)
		b = appendLogString(b, string(inv.req.Kind))
		b = append(b, `,"trigger_source":`...)
		b = appendLogString(b, string(inv.req.Source))
	}
	if status != 0 {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(status), 10)
	}
	b = append(b, `,"duration_ms":`...)
	return emf.AppendFloat(b, Millis(d))
}

// appendOperation appends the members of one operation's group.
func appendOperation(b []byte, r *Result) []byte {
	b = append(b, `"ok":`...)
	b = strconv.AppendBool(b, r.OK)
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(r.Attempts), 10)
	b = append(b, `,"duration_ms":`...)
	b = emf.AppendFloat(b, Millis(r.Duration))
	if r.Fleet {
		b = append(b, `,"total":`...)
		b = strconv.AppendInt(b, int64(r.Total), 10)
		b = append(b, `,"failed":`...)
		b = strconv.AppendInt(b, int64(r.Failed), 10)
	}
	if r.OK || r.Error == nil {
		b = append(b, `,"items":`...)
		return strconv.AppendInt(b, int64(r.Items), 10)
	}
	b = append(b, `,"kind":`...)
	b = appendLogString(b, r.Error.Kind)
	if r.Error.ErrCode != 0 {
		b = append(b, `,"errcode":`...)
		b = strconv.AppendInt(b, int64(r.Error.ErrCode), 10)
	}
	if r.Error.RID != "" {
		b = append(b, `,"rid":`...)
		b = appendLogString(b, r.Error.RID)
	}
	b = append(b, `,"message":`...)
	return appendLogString(b, r.Error.Message)
}

// appendLogJSON appends v as encoding/json writes it ("[]" when empty is
// set); v is one of the log line's lists, whose values encode without
// error.
func appendLogJSON(b []byte, v any, empty bool) []byte {
	if empty {
		return append(b, "[]"...)
	}
	j, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, j...)
}

// appendLogString appends s as a JSON string the way log/slog's JSON
// handler escapes it: ", \ and control characters escaped, invalid UTF-8
// as U+FFFD, U+2028 and U+2029 escaped.
func appendLogString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// requestLogger is the logger with the request id on every line, as
// Logger.With("request_id", …) gives it, but with the attribute added
// when a line is written instead of formatted up front: most invocations
// write no line through it.
func (inv *invocation) requestLogger() *slog.Logger {
	return slog.New(requestIDHandler{Handler: inv.logger().Handler(), id: inv.requestID})
}

// requestIDHandler adds request_id before each record's attributes.
type requestIDHandler struct {
	slog.Handler
	id string
}

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	r2 := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r2.AddAttrs(slog.String("request_id", h.id))
	r.Attrs(func(a slog.Attr) bool { r2.AddAttrs(a); return true })
	return h.Handler.Handle(ctx, r2)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return h.Handler.WithAttrs(append([]slog.Attr{slog.String("request_id", h.id)}, as...))
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return h.Handler.WithAttrs([]slog.Attr{slog.String("request_id", h.id)}).WithGroup(name)
}
