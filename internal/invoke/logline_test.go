package invoke

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/emf"
	"github.com/wxcloudenv/wxcloudenv/internal/trigger"
)

// lineBoth returns the summary line appended by hand and the one slog's
// JSON handler writes from eventAttrs, for the same invocation.
func lineBoth(t testing.TB, inv *invocation, ev *Event, s summary) (hand, viaSlog []byte) {
	t.Helper()
	hand = inv.appendEventLine(nil, ev, s)
	var buf bytes.Buffer
	l := NewLogger(&buf, slog.LevelDebug)
	r := slog.NewRecord(s.now, s.level, "invocation", 0)
	r.AddAttrs(inv.eventAttrs(ev, s)...)
	if err := l.Handler().Handle(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	return hand, buf.Bytes()
}

// sameJSON reports whether a and b are one JSON line each with the same
// content, whatever the order of members.
func sameJSON(t testing.TB, a, b []byte) bool {
	t.Helper()
	var x, y any
	if !bytes.HasSuffix(a, []byte("\n")) || bytes.Count(a, []byte("\n")) != 1 {
		t.Fatalf("not one line: %q", a)
	}
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("the line appended by hand is not JSON (%v): %s", err, a)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("slog's line is not JSON (%v): %s", err, b)
	}
	return reflect.DeepEqual(x, y)
}

func lineInvocation(requestID, platform string, req *trigger.Request) *invocation {
	return &invocation{h: &Handler{Platform: platform}, requestID: requestID, req: req,
		stamp: time.Date(2026, 12, 6, 14, 0, 0, 123_000_000, time.UTC)}
}

// TestEventLineMatchesSlog: the line appended by hand has the content of
// the line slog writes from the same attributes, for every shape of
// invocation.
func TestEventLineMatchesSlog(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 6, 14, 0, 0, 456_789_012, time.FixedZone("x", 8*3600))
	ok := Result{Operation: "getenvinfo", OK: true, Attempts: 1, Duration: 1234567 * time.Nanosecond, Items: 2}
	failed := Result{Operation: "describecloudbaserunenvs", Attempts: 3, Duration: 2 * time.Second,
		Error: &ErrorInfo{Kind: "upstream", ErrCode: -1, RID: "rid-\"1\"", Message: "WeChat answered\n\t\x01 <b>&</b> \u2028 \xff\xfe 中文"}}
	fleet := Result{Operation: "getenvinfo", OK: false, Attempts: 0, Fleet: true, Total: 10000, Failed: 37, Duration: 15 * time.Second}
	noErr := Result{Operation: "x", OK: false}
	emptyKey := Result{Operation: "", OK: true, Items: 3}
	alerts := []Alert{{Authorizer: "wx1", Operation: "getenvinfo", Env: "e<1>", Resource: "r", Status: "HALTED", Message: "m\x00\xc3", Since: now}}
	many := make([]Alert, 120)
	for i := range many {
		many[i] = Alert{Operation: "describecloudbaserunenvs", Env: "e", Resource: strings.Repeat("r", i), Status: "s", Message: "m"}
	}
	http := &trigger.Request{Kind: trigger.HTTP, Source: trigger.SourceAPIGatewayV2}
	tests := []struct {
		name string
		inv  *invocation
		ev   *Event
		s    summary
	}{
		{name: "ok, direct", inv: lineInvocation("req-1", PlatformAWSLambda, &trigger.Request{Kind: trigger.Direct, Source: trigger.SourceDirect}),
			ev: &Event{OK: true, Results: []Result{ok, ok}}, s: summary{now: now, level: slog.LevelInfo, duration: 3 * time.Millisecond, fn: "wxcloudenv-prod"}},
		{name: "failed, http, alerts, changes, notifications, error", inv: lineInvocation("req\"2\\", PlatformTencentSCF, http),
			ev: &Event{Results: []Result{ok, failed}, Alerts: alerts, Changes: []Change{{}}, Notifications: []Notification{{Channel: "wecom", Status: "failed", Error: "e\x7f", Owed: 2, Authorizers: []string{"wx1"}}}},
			s: summary{now: now, level: slog.LevelWarn, duration: 0, status: 502, failure: "wxcloudenv: \"boom\"\n\xff", fn: "",
				m: emf.Metrics{Alerts: 1, FailedOperations: 1, VerifyTicketAgeSeconds: emf.Value(61.5), QuotaRemainingPercent: emf.Value(1e-7)}}},
		{name: "fleet, over 50 alerts, empty changes", inv: lineInvocation("r", PlatformLocal, &trigger.Request{Kind: trigger.Schedule, Source: trigger.SourceEventBridge}),
			ev: &Event{Results: []Result{fleet, noErr}, Alerts: many, Changes: []Change{}, Notifications: []Notification{}},
			s:  summary{now: now, level: slog.LevelWarn, duration: 90 * time.Second, fn: "函数", m: emf.Metrics{Authorizers: 10000, FailedAuthorizers: 37}}},
		{name: "no results, no trigger", inv: lineInvocation("", "", nil), ev: &Event{}, s: summary{now: now, level: slog.LevelInfo}},
		{name: "an operation with an empty key", inv: lineInvocation("r", "p", nil), ev: &Event{OK: true, Results: []Result{emptyKey}}, s: summary{now: now, level: slog.LevelInfo}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hand, viaSlog := lineBoth(t, tt.inv, tt.ev, tt.s)
			if !sameJSON(t, hand, viaSlog) {
				t.Errorf("the lines differ:\n hand %s\n slog %s", hand, viaSlog)
			}
			if err := emf.Validate(bytes.TrimSuffix(hand, []byte("\n"))); err != nil {
				t.Errorf("EMF: %v", err)
			}
		})
	}
}

// FuzzEventLine: for any strings (invalid UTF-8, control characters,
// quotes) and numbers, the line appended by hand is one valid JSON line
// with slog's content.
func FuzzEventLine(f *testing.F) {
	f.Add("req-1", "getenvinfo", "upstream", "rid", "message", "failure", "fn", "alert", int64(1500000), 2, -1, true)
	f.Add("\xff\x00\"\\", "\u2028", "k\n", "\t", "<&>", "\xc3", "\U0010FFFF", "\x7f\x80", int64(-5), -1, 0, false)
	f.Fuzz(func(t *testing.T, requestID, op, kind, rid, msg, failure, fn, alert string, dur int64, attempts, errcode int, ok bool) {
		inv := lineInvocation(requestID, PlatformAWSLambda, &trigger.Request{Kind: trigger.Kind(kind), Source: trigger.Source(op)})
		r := Result{Operation: op, OK: ok, Attempts: attempts, Duration: time.Duration(dur), Items: attempts}
		if !ok {
			r.Error = &ErrorInfo{Kind: kind, ErrCode: errcode, RID: rid, Message: msg}
		}
		ev := &Event{OK: ok, Results: []Result{r, {Operation: msg, OK: true}}, Alerts: []Alert{{Operation: op, Env: alert, Message: alert}},
			Notifications: []Notification{{Channel: alert, Error: msg}}}
		s := summary{now: time.Unix(0, dur), level: slog.LevelWarn, duration: time.Duration(dur), status: attempts, failure: failure, fn: fn,
			m: emf.Metrics{Alerts: attempts, VerifyTicketAgeSeconds: emf.Value(float64(dur) / 7)}}
		hand, viaSlog := lineBoth(t, inv, ev, s)
		if !json.Valid(hand) {
			t.Fatalf("not JSON: %q", hand)
		}
		if y := s.now.Year(); y < 0 || y >= 10000 {
			return // slog writes an error instead of the time; the rest is compared below
		}
		if !sameJSON(t, hand, viaSlog) {
			t.Errorf("the lines differ:\n hand %s\n slog %s", hand, viaSlog)
		}
	})
}

// TestRequestLogger: requestLogger's lines are those of Logger.With with
// the request id, with attributes, groups and derived loggers alike.
func TestRequestLogger(t *testing.T) {
	t.Parallel()
	write := func(l *slog.Logger) {
		l.Info("one", "a", 1)
		l.With("b", "x\n").Warn("two", slog.Group("g", "c", true))
		l.WithGroup("grp").Error("three", "d", 2.5)
		l.Debug("hidden")
	}
	var got, want bytes.Buffer
	inv := &invocation{h: &Handler{Logger: NewLogger(&got, slog.LevelInfo)}, requestID: "req-\"1\""}
	write(inv.requestLogger())
	write(NewLogger(&want, slog.LevelInfo).With("request_id", inv.requestID))
	g, w := strings.Split(got.String(), "\n"), strings.Split(want.String(), "\n")
	if len(g) != 4 || len(g) != len(w) {
		t.Fatalf("lines:\n%s\nwant\n%s", got.String(), want.String())
	}
	for i := range 3 {
		var x, y map[string]any
		if json.Unmarshal([]byte(g[i]), &x) != nil || json.Unmarshal([]byte(w[i]), &y) != nil {
			t.Fatalf("not JSON: %s / %s", g[i], w[i])
		}
		delete(x, "time")
		delete(y, "time")
		if !reflect.DeepEqual(x, y) {
			t.Errorf("line %d = %s, want %s", i, g[i], w[i])
		}
	}
}
