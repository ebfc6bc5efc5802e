package alertstate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wxcloudenv/wxcloudenv/internal/alertstate"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

const prefix = "wxcloudenv:"

var t0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

func envAlert(auth, env, status string) alertstate.Alert {
	return alertstate.Alert{Authorizer: auth, Operation: "getenvinfo", Env: env, Resource: "environment", Status: status, Message: "environment " + env + " is " + status}
}

func authFailure(auth string, code int) alertstate.Failure {
	return alertstate.Failure{Authorizer: auth, Operation: "getenvinfo", Kind: "auth", ErrCode: code, Message: fmt.Sprintf("errcode %d rid: %d", code, time.Now().UnixNano())}
}

func checked(auths ...string) []alertstate.Scope {
	var s []alertstate.Scope
	for _, a := range auths {
		s = append(s, alertstate.Scope{Operation: "getenvinfo", Authorizer: a})
	}
	return s
}

// summary renders changes as "change authorizer/env/resource@since" for
// comparison.
func summary(cs []alertstate.Change) []string {
	out := []string{}
	for _, c := range cs {
		s := fmt.Sprintf("%s %s/%s/%s", c.Change, c.Authorizer, c.Env, c.Resource)
		if c.Resource == alertstate.ResourceOperation {
			s += fmt.Sprintf(" %s %d", c.Kind, c.ErrCode)
		}
		s += "@" + c.Since.Sub(t0).String()
		out = append(out, s)
	}
	return out
}

func TestUpdateSequences(t *testing.T) {
	t.Parallel()
	type step struct {
		at            time.Duration // after t0
		run           alertstate.Run
		wantChanges   []string
		wantReminders []string
		wantSince     []time.Duration // per alert, after t0
	}
	tests := []struct {
		name   string
		repeat time.Duration
		steps  []step
	}{
		{
			name:   "new, same, resolved",
			repeat: 24 * time.Hour,
			steps: []step{
				{at: 0, run: alertstate.Run{Checked: checked("wxA"), Alerts: []alertstate.Alert{envAlert("wxA", "e1", "UNAVAILABLE")}},
					wantChanges: []string{"new wxA/e1/environment@0s"}, wantSince: []time.Duration{0}},
				{at: 5 * time.Minute, run: alertstate.Run{Checked: checked("wxA"), Alerts: []alertstate.Alert{envAlert("wxA", "e1", "UNAVAILABLE")}},
					wantChanges: []string{}, wantSince: []time.Duration{0}},
				{at: 10 * time.Minute, run: alertstate.Run{Checked: checked("wxA")},
					wantChanges: []string{"resolved wxA/e1/environment@0s"}},
				{at: 15 * time.Minute, run: alertstate.Run{Checked: checked("wxA")},
					wantChanges: []string{}},
				{at: 20 * time.Minute, run: alertstate.Run{Checked: checked("wxA"), Alerts: []alertstate.Alert{envAlert("wxA", "e1", "HALTED")}},
					wantChanges: []string{"new wxA/e1/environment@20m0s"}, wantSince: []time.Duration{20 * time.Minute}},
			},
		},
		{
			name:   "status change keeps the alert and its since",
			repeat: 0,
			steps: []step{
				{at: 0, run: alertstate.Run{Alerts: []alertstate.Alert{envAlert("", "e1", "UNAVAILABLE")}},
					wantChanges: []string{"new /e1/environment@0s"}, wantSince: []time.Duration{0}},
				{at: time.Hour, run: alertstate.Run{Alerts: []alertstate.Alert{envAlert("", "e1", "HALTED")}},
					wantChanges: []string{}, wantSince: []time.Duration{0}},
			},
		},
		{
			name:   "failures start and stop",
			repeat: 0,
			steps: []step{
				{at: 0, run: alertstate.Run{Checked: checked("wxA", "wxB"), Failures: []alertstate.Failure{authFailure("wxB", 61023)}},
					wantChanges: []string{"new wxB//operation auth 61023@0s"}},
				{at: time.Minute, run: alertstate.Run{Checked: checked("wxA", "wxB"), Failures: []alertstate.Failure{authFailure("wxB", 61023)}},
					wantChanges: []string{}},
				{at: 2 * time.Minute, run: alertstate.Run{Checked: checked("wxA", "wxB")},
					wantChanges: []string{"resolved wxB//operation auth 61023@0s"}},
			},
		},
		{
			name:   "a failing authorizer keeps its alerts open",
			repeat: 0,
			steps: []step{
				{at: 0, run: alertstate.Run{Checked: checked("wxA"), Alerts: []alertstate.Alert{envAlert("wxA", "e1", "HALTED")}},
					wantChanges: []string{"new wxA/e1/environment@0s"}, wantSince: []time.Duration{0}},
				{at: time.Minute, run: alertstate.Run{Checked: checked("wxA"), Failures: []alertstate.Failure{authFailure("wxA", 61023)}},
					wantChanges: []string{"new wxA//operation auth 61023@1m0s"}},
				{at: 2 * time.Minute, run: alertstate.Run{Checked: checked("wxA"), Alerts: []alertstate.Alert{envAlert("wxA", "e1", "HALTED")}},
					wantChanges: []string{"resolved wxA//operation auth 61023@1m0s"}, wantSince: []time.Duration{0}},
				{at: 3 * time.Minute, run: alertstate.Run{Checked: checked("wxA")},
					wantChanges: []string{"resolved wxA/e1/environment@0s"}},
			},
		},
		{
			name:   "an authorizer not checked keeps its alerts",
			repeat: 0,
			steps: []step{
				{at: 0, run: alertstate.Run{Alerts: []alertstate.Alert{envAlert("wxA", "e1", "HALTED"), envAlert("wxB", "e2", "HALTED")}},
					wantChanges: []string{"new wxA/e1/environment@0s", "new wxB/e2/environment@0s"}, wantSince: []time.Duration{0, 0}},
				{at: time.Minute, run: alertstate.Run{Checked: checked("wxB")},
					wantChanges: []string{"resolved wxB/e2/environment@0s"}},
				{at: 2 * time.Minute, run: alertstate.Run{Checked: checked("wxA")},
					wantChanges: []string{"resolved wxA/e1/environment@0s"}},
			},
		},
		{
			name:   "reminders once per repeat period",
			repeat: time.Hour,
			steps: []step{
				{at: 0, run: alertstate.Run{Alerts: []alertstate.Alert{envAlert("wxA", "e1", "HALTED")}, Failures: []alertstate.Failure{authFailure("wxB", 40001)}},
					wantChanges: []string{"new wxA/e1/environment@0s", "new wxB//operation auth 40001@0s"}, wantSince: []time.Duration{0}},
				{at: 59 * time.Minute, run: alertstate.Run{Alerts: []alertstate.Alert{envAlert("wxA", "e1", "HALTED")}, Failures: []alertstate.Failure{authFailure("wxB", 40001)}},
					wantChanges: []string{}, wantSince: []time.Duration{0}},
				{at: 60 * time.Minute, run: alertstate.Run{Alerts: []alertstate.Alert{envAlert("wxA", "e1", "HALTED")}, Failures: []alertstate.Failure{authFailure("wxB", 40001)}},
					wantChanges: []string{}, wantReminders: []string{"reminder wxA/e1/environment@0s", "reminder wxB//operation auth 40001@0s"}, wantSince: []time.Duration{0}},
				{at: 61 * time.Minute, run: alertstate.Run{Alerts: []alertstate.Alert{envAlert("wxA", "e1", "HALTED")}, Failures: []alertstate.Failure{authFailure("wxB", 40001)}},
					wantChanges: []string{}, wantSince: []time.Duration{0}},
				{at: 125 * time.Minute, run: alertstate.Run{Alerts: []alertstate.Alert{envAlert("wxA", "e1", "HALTED")}, Checked: checked("wxB")},
					wantChanges: []string{"resolved wxB//operation auth 40001@0s"}, wantReminders: []string{"reminder wxA/e1/environment@0s"}, wantSince: []time.Duration{0}},
			},
		},
		{
			name:   "repeat 0 never reminds",
			repeat: 0,
			steps: []step{
				{at: 0, run: alertstate.Run{Alerts: []alertstate.Alert{envAlert("wxA", "e1", "HALTED")}},
					wantChanges: []string{"new wxA/e1/environment@0s"}, wantSince: []time.Duration{0}},
				{at: 29 * 24 * time.Hour, run: alertstate.Run{Alerts: []alertstate.Alert{envAlert("wxA", "e1", "HALTED")}},
					wantChanges: []string{}, wantSince: []time.Duration{0}},
			},
		},
		{
			name:   "open state outlives the TTL by being rewritten",
			repeat: 0,
			steps: []step{
				{at: 0, run: alertstate.Run{Alerts: []alertstate.Alert{envAlert("wxA", "e1", "HALTED")}},
					wantChanges: []string{"new wxA/e1/environment@0s"}, wantSince: []time.Duration{0}},
				{at: 20 * 24 * time.Hour, run: alertstate.Run{Alerts: []alertstate.Alert{envAlert("wxA", "e1", "HALTED")}},
					wantChanges: []string{}, wantSince: []time.Duration{0}},
				{at: 40 * 24 * time.Hour, run: alertstate.Run{Alerts: []alertstate.Alert{envAlert("wxA", "e1", "HALTED")}},
					wantChanges: []string{}, wantSince: []time.Duration{0}},
			},
		},
		{
			name:   "abandoned state expires",
			repeat: 0,
			steps: []step{
				{at: 0, run: alertstate.Run{Alerts: []alertstate.Alert{envAlert("wxA", "e1", "HALTED")}},
					wantChanges: []string{"new wxA/e1/environment@0s"}, wantSince: []time.Duration{0}},
				{at: 31 * 24 * time.Hour, run: alertstate.Run{Alerts: []alertstate.Alert{envAlert("wxA", "e1", "HALTED")}},
					wantChanges: []string{"new wxA/e1/environment@744h0m0s"}, wantSince: []time.Duration{31 * 24 * time.Hour}},
			},
		},
		{
			name:   "duplicate alerts in one run share one entry",
			repeat: 0,
			steps: []step{
				{at: 0, run: alertstate.Run{Alerts: []alertstate.Alert{envAlert("wxA", "e1", "HALTED"), envAlert("wxA", "e1", "HALTED")}},
					wantChanges: []string{"new wxA/e1/environment@0s"}, wantSince: []time.Duration{0, 0}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := store.NewMemory()
			var now atomic.Int64
			st.Now = func() time.Time { return time.Unix(0, now.Load()) }
			for i, s := range tt.steps {
				at := t0.Add(s.at)
				now.Store(at.UnixNano())
				out, err := alertstate.Update(t.Context(), st, prefix, at, s.run, tt.repeat)
				if err != nil {
					t.Fatalf("step %d: Update: %v", i, err)
				}
				if got, want := strings.Join(summary(out.Changes), "; "), strings.Join(s.wantChanges, "; "); got != want {
					t.Errorf("step %d: changes = %q, want %q", i, got, want)
				}
				if got, want := strings.Join(summary(out.Reminders), "; "), strings.Join(s.wantReminders, "; "); got != want {
					t.Errorf("step %d: reminders = %q, want %q", i, got, want)
				}
				if len(out.AlertSince) != len(s.run.Alerts) {
					t.Fatalf("step %d: %d since values for %d alerts", i, len(out.AlertSince), len(s.run.Alerts))
				}
				for j, want := range s.wantSince {
					if got := out.AlertSince[j]; !got.Equal(t0.Add(want)) {
						t.Errorf("step %d: alert %d since = %v, want %v", i, j, got, t0.Add(want))
					}
				}
				for j, fs := range out.FailureSince {
					if fs.IsZero() || fs.After(at) {
						t.Errorf("step %d: failure %d since = %v, want a time at or before %v", i, j, fs, at)
					}
				}
			}
		})
	}
}

// flaky is a real Memory store whose reads or writes can be made to fail
// the way every backend reports an outage.
type flaky struct {
	*store.Memory
	failReads, failWrites atomic.Bool
	// writesLeft, when positive, is how many writes succeed before they
	// start to fail.
	writesLeft atomic.Int64
}

func (f *flaky) CompareAndSwap(ctx context.Context, key string, old []byte, v store.Value) (bool, error) {
	if f.failWrites.Load() {
		return false, fmt.Errorf("redis: i/o timeout: %w", store.ErrUnavailable)
	}
	if f.writesLeft.Load() > 0 && f.writesLeft.Add(-1) == 0 {
		f.failWrites.Store(true)
	}
	return f.Memory.CompareAndSwap(ctx, key, old, v)
}

func TestUpdateStoreErrors(t *testing.T) {
	t.Parallel()
	run := alertstate.Run{Alerts: []alertstate.Alert{envAlert("wxA", "e1", "HALTED"), envAlert("wxB", "e1", "HALTED")}}
	tests := []struct {
		name                  string
		failReads, failWrites bool
	}{
		{name: "read fails", failReads: true},
		{name: "write fails", failWrites: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := &flaky{Memory: store.NewMemory()}
			st.failReads.Store(tt.failReads)
			st.failWrites.Store(tt.failWrites)
			out, err := alertstate.Update(t.Context(), st, prefix, t0, run, time.Hour)
			if !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("Update error = %v, want one wrapping store.ErrUnavailable", err)
			}
			if out == nil {
				t.Fatal("Update returned a nil Outcome with its error")
			}
			if len(out.Changes) != 0 || out.Changes == nil {
				t.Errorf("changes = %#v, want an empty non-nil slice", out.Changes)
			}
			if len(out.AlertSince) != len(run.Alerts) {
				t.Errorf("%d since values, want %d", len(out.AlertSince), len(run.Alerts))
			}
			for i, s := range out.AlertSince {
				if !s.IsZero() {
					t.Errorf("alert %d since = %v, want zero (not committed)", i, s)
				}
			}
			// Once the store is back, the changes come, once.
			st.failReads.Store(false)
			st.failWrites.Store(false)
			out, err = alertstate.Update(t.Context(), st, prefix, t0.Add(time.Minute), run, time.Hour)
			if err != nil {
				t.Fatalf("Update after recovery: %v", err)
			}
			if len(out.Changes) != 2 {
				t.Errorf("after recovery: %d changes, want 2", len(out.Changes))
			}
		})
	}
}

// TestUpdateBounded checks a large fleet: every shard stays small, and
// pairs with nothing open write nothing.
func TestUpdateBounded(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	run := alertstate.Run{}
	const n = 10000
	for i := range n {
		auth := fmt.Sprintf("wx%05d", i)
		run.Checked = append(run.Checked, checked(auth)...)
		if i%10 == 0 {
			for e := range 3 {
				a := envAlert(auth, fmt.Sprintf("env-%d", e), "HALTED")
				a.Message = strings.Repeat("很长的消息", 200) // longer than kept
				run.Alerts = append(run.Alerts, a)
			}
		}
	}
	// One authorizer with far too many alerts.
	for e := range alertstate.MaxEntries + 50 {
		run.Alerts = append(run.Alerts, envAlert("wx00001", fmt.Sprintf("env-%d", e), "HALTED"))
	}
	out, err := alertstate.Update(t.Context(), st, prefix, t0, run, time.Hour)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got, want := len(out.Changes), n/10*3+alertstate.MaxEntries; got != want {
		t.Errorf("%d changes, want %d", got, want)
	}
	keys, err := st.Keys(t.Context(), prefix+"alerts:")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(keys), n/10+1; got != want {
		t.Errorf("%d shards written, want %d (only pairs with something open)", got, want)
	}
	vals, err := st.GetMany(t.Context(), keys)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range vals {
		if len(v.Data) > 200*1024 {
			t.Errorf("shard %s is %d bytes, want at most 200 KiB", k, len(v.Data))
		}
		if v.Expires.IsZero() {
			t.Errorf("shard %s never expires", k)
		}
	}
	for _, c := range out.Changes {
		if len(c.Message) > alertstate.MaxMessageBytes || !utf8.ValidString(c.Message) {
			t.Fatalf("kept message is %d bytes (valid UTF-8 %v), want at most %d", len(c.Message), utf8.ValidString(c.Message), alertstate.MaxMessageBytes)
		}
	}
}

func BenchmarkUpdateFleet(b *testing.B) {
	st := store.NewMemory()
	run := alertstate.Run{}
	for i := range 10000 {
		auth := fmt.Sprintf("wx%05d", i)
		run.Checked = append(run.Checked, checked(auth)...)
		if i%10 == 0 {
			run.Alerts = append(run.Alerts, envAlert(auth, "e1", "HALTED"))
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := alertstate.Update(ctx, st, prefix, t0.Add(time.Duration(i)*time.Minute), run, 24*time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

// TestUpdateKeepsKnownOverCap checks that a shard over MaxEntries keeps the
// alerts it tracks, whatever order they come in, rather than resolving them.
func TestUpdateKeepsKnownOverCap(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	var first, second alertstate.Run
	for e := range alertstate.MaxEntries {
		first.Alerts = append(first.Alerts, envAlert("wxA", fmt.Sprintf("env-%d", e), "HALTED"))
	}
	for e := range 50 {
		second.Alerts = append(second.Alerts, envAlert("wxA", fmt.Sprintf("late-%d", e), "HALTED"))
	}
	second.Alerts = append(second.Alerts, first.Alerts...)
	out, err := alertstate.Update(t.Context(), st, prefix, t0, first, 0)
	if err != nil || len(out.Changes) != alertstate.MaxEntries {
		t.Fatalf("first Update: %v, %d changes, want %d", err, len(out.Changes), alertstate.MaxEntries)
	}
	out, err = alertstate.Update(t.Context(), st, prefix, t0.Add(time.Minute), second, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Changes) != 0 {
		t.Errorf("second Update: %d changes (first %v), want none", len(out.Changes), summary(out.Changes[:1]))
	}
	for i, s := range out.AlertSince {
		if tracked := i >= 50; tracked != !s.IsZero() {
			t.Errorf("alert %d since = %v, want set only for tracked alerts", i, s)
		}
	}
}

// TestUpdateScrubsSecrets checks that a secret the process keeps never
// reaches the store nor the outcome, even inside an upstream message.
func TestUpdateScrubsSecrets(t *testing.T) {
	t.Parallel()
	const secret = "alertstate-test-token-5f1c9e2a7b"
	sc := wechat.NewScrubber()
	sc.Keep(secret)
	st := store.NewMemory()
	run := alertstate.Run{Scrubber: sc,
		Alerts:   []alertstate.Alert{{Authorizer: "wxA", Operation: "getenvinfo", Env: "e1", Resource: "environment", Status: "HALTED", Message: "url ?access_token=" + secret}},
		Failures: []alertstate.Failure{{Authorizer: "wxB", Operation: "getenvinfo", Kind: "auth", ErrCode: 40001, Message: "invalid credential, access_token is " + secret}},
	}
	out, err := alertstate.Update(t.Context(), st, prefix, t0, run, 0)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), secret) {
		t.Errorf("outcome shows the secret: %s", js)
	}
	if !strings.Contains(string(js), wechat.Redacted) {
		t.Errorf("outcome lost the scrubbed messages: %s", js)
	}
	keys, err := st.Keys(t.Context(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := st.GetMany(t.Context(), keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 2 {
		t.Fatalf("%d shards, want 2", len(vals))
	}
	for k, v := range vals {
		if strings.Contains(string(v.Data), secret) {
			t.Errorf("shard %s stores the secret: %s", k, v.Data)
		}
	}
}

// TestUpdateStoreFailsMidway checks that the changes committed before a
// store failure are returned (and never claimed again), and the rest come
// once the store is back.
func TestUpdateStoreFailsMidway(t *testing.T) {
	t.Parallel()
	st := &flaky{Memory: store.NewMemory()}
	st.writesLeft.Store(3)
	run := alertstate.Run{}
	for i := range 10 {
		run.Alerts = append(run.Alerts, envAlert(fmt.Sprintf("wx%02d", i), "e1", "HALTED"))
	}
	out, err := alertstate.Update(t.Context(), st, prefix, t0, run, 0)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Update error = %v, want store.ErrUnavailable", err)
	}
	if len(out.Changes) != 3 {
		t.Fatalf("%d changes committed before the failure, want 3", len(out.Changes))
	}
	first := map[string]bool{}
	for _, c := range out.Changes {
		first[c.Authorizer] = true
	}
	set := 0
	for i, s := range out.AlertSince {
		if !s.IsZero() {
			set++
			if !first[run.Alerts[i].Authorizer] {
				t.Errorf("alert %d has a since but its change was not committed", i)
			}
		}
	}
	if set != 3 {
		t.Errorf("%d alerts with since, want 3", set)
	}
	st.failWrites.Store(false)
	out, err = alertstate.Update(t.Context(), st, prefix, t0.Add(time.Minute), run, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Changes) != 7 {
		t.Errorf("after recovery: %d changes, want the 7 not committed before", len(out.Changes))
	}
	for _, c := range out.Changes {
		if first[c.Authorizer] {
			t.Errorf("change for %s claimed twice", c.Authorizer)
		}
	}
}

func (f *flaky) GetMany(ctx context.Context, keys []string) (map[string]store.Value, error) {
	if f.failReads.Load() {
		return nil, fmt.Errorf("redis: dial tcp 127.0.0.1:1: connection refused: %w", store.ErrUnavailable)
	}
	return f.Memory.GetMany(ctx, keys)
}
