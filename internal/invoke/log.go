package invoke

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/emf"
)

// maxLoggedAlerts bounds the alerts in a log line: CloudWatch cuts a log
// event at 256 KB.
const maxLoggedAlerts = 50

// logEvent writes the invocation's summary line: info when ok, warn
// otherwise. It holds outcomes and counts (and the metrics m), never the
// answers. status is the HTTP status, 0 outside HTTP.
func (inv *invocation) logEvent(ev *Event, m emf.Metrics, status int, failure string) {
	level := slog.LevelInfo
	if !ev.OK || failure != "" {
		level = slog.LevelWarn
	}
	l := inv.logger()
	if !l.Enabled(context.Background(), level) {
		return
	}
	warningMetrics(ev, &m)
	s := summary{now: time.Now(), level: level, duration: time.Since(inv.start), status: status, fn: inv.functionName(), m: m}
	if failure != "" {
		s.failure = inv.scrub(failure)
	}
	if lw := inv.h.lines(); lw != nil {
		// The Handler's own logger: the line is appended by hand, as
		// slog's JSON handler would write it, without its reflection.
		bp := linePool.Get().(*[]byte)
		lw.writeLine(bp, inv.appendEventLine(*bp, ev, s))
		return
	}
	logAttrs(l, level, "invocation", inv.eventAttrs(ev, s))
}

// eventAttrs are the summary line's attributes, for a Logger the Handler
// did not build.
func (inv *invocation) eventAttrs(ev *Event, s summary) []slog.Attr {
	attrs := inv.baseAttrsOf(s.status, s.duration)
	attrs = append(attrs, slog.Bool("ok", ev.OK))
	// Groups are built as attributes, not slog.Group's ...any, which boxes
	// every attribute.
	ops := make([]slog.Attr, 0, len(ev.Results))
	for _, r := range ev.Results {
		a := make([]slog.Attr, 0, 8)
		a = append(a, slog.Bool("ok", r.OK), slog.Int("attempts", r.Attempts), slog.Float64("duration_ms", Millis(r.Duration)))
		if r.Fleet {
			a = append(a, slog.Int("total", r.Total), slog.Int("failed", r.Failed))
		}
		if r.OK || r.Error == nil {
			a = append(a, slog.Int("items", r.Items))
		} else {
			a = append(a, slog.String("kind", r.Error.Kind))
			if r.Error.ErrCode != 0 {
				a = append(a, slog.Int("errcode", r.Error.ErrCode))
			}
			if r.Error.RID != "" {
				a = append(a, slog.String("rid", r.Error.RID))
			}
			a = append(a, slog.String("message", r.Error.Message))
		}
		ops = append(ops, slog.Attr{Key: r.Operation, Value: slog.GroupValue(a...)})
	}
	attrs = append(attrs, slog.Attr{Key: "operations", Value: slog.GroupValue(ops...)})
	logged := ev.Alerts
	if len(logged) > maxLoggedAlerts {
		logged = logged[:maxLoggedAlerts]
	}
	alertsValue := slog.AnyValue(logged)
	if len(logged) == 0 {
		alertsValue = slog.AnyValue(noAlerts) // "[]" without reflection
	}
	attrs = append(attrs, slog.Int("alerts_total", len(ev.Alerts)), slog.Attr{Key: "alerts", Value: alertsValue})
	if ev.Changes != nil {
		attrs = append(attrs, slog.Int("changes", len(ev.Changes)))
	}
	if ev.Notifications != nil {
		attrs = append(attrs, slog.Any("notifications", ev.Notifications))
	}
	if s.failure != "" {
		attrs = append(attrs, slog.String("error", s.failure))
	}
	return append(attrs, emf.Attrs(s.fn, inv.stamp, s.m)...)
}

// noAlerts is the empty alert list as the log line shows it.
var noAlerts = json.RawMessage("[]")

// logAttrs is l.LogAttrs without the caller's program counter, which slog
// looks up (runtime.Callers, a few µs per line) for a source location
// these lines never show.
func logAttrs(l *slog.Logger, level slog.Level, msg string, attrs []slog.Attr) {
	ctx := context.Background()
	if !l.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(time.Now(), level, msg, 0)
	r.AddAttrs(attrs...)
	_ = l.Handler().Handle(ctx, r)
}

// logRejected writes the line of an invocation that ran no operation.
// status is the HTTP status, 0 outside HTTP.
func (inv *invocation) logRejected(msg string, status int, detail string) {
	attrs := append(inv.baseAttrs(status), slog.Bool("ok", false), slog.String("error", inv.scrub(detail)))
	inv.logger().LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...)
}

// baseAttrs are the attributes of every line of the invocation; status is
// the HTTP status, 0 outside HTTP.
func (inv *invocation) baseAttrs(status int) []slog.Attr {
	return inv.baseAttrsOf(status, time.Since(inv.start))
}

// baseAttrsOf is baseAttrs with the invocation's duration so far, d.
func (inv *invocation) baseAttrsOf(status int, d time.Duration) []slog.Attr {
	attrs := []slog.Attr{
		slog.String("request_id", inv.requestID),
		slog.String("platform", inv.h.Platform),
	}
	if inv.req != nil {
		attrs = append(attrs, slog.String("trigger", string(inv.req.Kind)), slog.String("trigger_source", string(inv.req.Source)))
	}
	if status != 0 {
		attrs = append(attrs, slog.Int("status", status))
	}
	attrs = append(attrs, slog.Float64("duration_ms", Millis(d)))
	return attrs
}
