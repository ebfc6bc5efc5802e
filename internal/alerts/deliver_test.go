package alerts_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alerts"
	"github.com/wxcloudenv/wxcloudenv/internal/notify"
	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
)

const robotKey = "wecom-outbox-robot-key-61c0"

var t0 = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)

// backend opens instances of one store: each instance its own client where
// the backend allows (redis, dynamodb), one shared handle otherwise.
type backend struct {
	name      string
	instances func(t *testing.T, n int) []store.Store
}

func backends(t *testing.T) []backend {
	t.Helper()
	redisURL := storetest.StartRedis(t)
	dynURL, dynEnv := storetest.StartDynamo(t)
	open := func(t *testing.T, url string, opts ...store.Option) store.Store {
		s, err := store.Open(url, opts...)
		if err != nil {
			t.Fatalf("Open(%q): %v", url, err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	same := func(s store.Store, n int) []store.Store {
		out := make([]store.Store, n)
		for i := range out {
			out[i] = s
		}
		return out
	}
	return []backend{
		{"memory", func(t *testing.T, n int) []store.Store { return same(store.NewMemory(), n) }},
		{"file", func(t *testing.T, n int) []store.Store {
			// One bbolt file admits one handle per process.
			return same(open(t, "file://"+filepath.ToSlash(filepath.Join(t.TempDir(), "store.db"))), n)
		}},
		{"redis", func(t *testing.T, n int) []store.Store {
			out := make([]store.Store, n)
			for i := range out {
				out[i] = open(t, redisURL)
			}
			return out
		}},
		{"dynamodb", func(t *testing.T, n int) []store.Store {
			out := make([]store.Store, n)
			for i := range out {
				out[i] = open(t, dynURL, store.WithEnv(storetest.Lookup(dynEnv)))
			}
			return out
		}},
	}
}

// instance is one function instance's alert path.
type instance struct {
	tr  *alerts.Tracker
	log *safeLog
}

type safeLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *safeLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *safeLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newInstance(t *testing.T, st store.Store, prefix string, robots *notifytest.Server) instance {
	t.Helper()
	chans, err := notify.Parse(robots.WeComURL(robotKey), notify.Secrets{})
	if err != nil {
		t.Fatal(err)
	}
	return instance{
		tr:  &alerts.Tracker{Store: st, Prefix: prefix, Notifier: &notify.Notifier{Channels: chans, Store: st, Prefix: prefix}},
		log: &safeLog{},
	}
}

func (in instance) track(ctx context.Context, now time.Time, run alerts.Run) alerts.Outcome {
	return in.tr.Track(ctx, alerts.Input{Run: run, Now: now, Platform: "local", Function: "outbox-test",
		Log: slog.New(slog.NewJSONHandler(in.log, nil))})
}

// haltedRun is a run that sees n HALTED environments of n authorizers.
func haltedRun(n int) alerts.Run {
	var run alerts.Run
	for i := range n {
		auth := fmt.Sprintf("wx%04d", i)
		run.Checked = append(run.Checked, alerts.Scope{Operation: "getenvinfo", Authorizer: auth})
		run.Alerts = append(run.Alerts, alerts.Alert{Authorizer: auth, Operation: "getenvinfo", Env: "env-" + auth,
			Resource: "environment", Status: "HALTED", Message: "environment env-" + auth + " is HALTED, not NORMAL"})
	}
	return run
}

// accepted returns the messages the robot accepted.
func accepted(robots *notifytest.Server) []notifytest.Received {
	var out []notifytest.Received
	for _, r := range robots.ReceivedBy(robotKey) {
		if r.Accepted {
			out = append(out, r)
		}
	}
	return out
}

// mentions counts the authorizers of haltedRun(n) a message names, and
// how many it counts in its "… and N more" line.
func mentions(text string, n int) int {
	named := 0
	for i := range n {
		if strings.Contains(text, fmt.Sprintf("wx%04d ", i)) {
			named++
		}
	}
	var more int
	if i := strings.LastIndex(text, "… and "); i >= 0 {
		fmt.Sscanf(text[i+len("… and "):], "%d more", &more)
	}
	return named + more
}

// TestOwedUntilAccepted: whatever keeps a robot from accepting a message
// (503, its rate limit, a send cut off by the deadline) leaves the claimed
// changes owed to it; the next run, on two instances at once, sends them
// exactly once, and the run after that sends nothing. Over every backend.
func TestOwedUntilAccepted(t *testing.T) {
	t.Parallel()
	const n = 21
	failures := []struct {
		name string
		// fail makes the robot refuse (or never get) the first message;
		// heal undoes it. timeout is the first run's time.
		fail    func(t *testing.T, robots *notifytest.Server, st store.Store, prefix string)
		heal    func(t *testing.T, robots *notifytest.Server, st store.Store, prefix string)
		timeout time.Duration
		status  string
	}{
		{"503", func(t *testing.T, r *notifytest.Server, _ store.Store, _ string) {
			r.SetAnswer(robotKey, notifytest.Answer{HTTPStatus: http.StatusServiceUnavailable})
		}, func(t *testing.T, r *notifytest.Server, _ store.Store, _ string) {
			r.SetAnswer(robotKey, notifytest.Answer{})
		}, 30 * time.Second, notify.StatusFailed},
		{"rate limited", func(t *testing.T, r *notifytest.Server, st store.Store, prefix string) {
			// 20 messages this minute and the next already went out.
			chans, _ := notify.Parse(r.WeComURL(robotKey), notify.Secrets{})
			for _, at := range []time.Time{time.Now(), time.Now().Add(time.Minute)} {
				for range 20 {
					if ok, err := notify.Allow(t.Context(), st, prefix, chans[0], at); err != nil || !ok {
						t.Fatalf("filling the rate window: %v %v", ok, err)
					}
				}
			}
		}, func(t *testing.T, _ *notifytest.Server, st store.Store, prefix string) {
			// The windows pass.
			keys, err := st.Keys(t.Context(), prefix+"notify:rate:")
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if err := st.Delete(t.Context(), k); err != nil {
					t.Fatal(err)
				}
			}
		}, 30 * time.Second, notify.StatusRateLimited},
		{"cut off", func(t *testing.T, r *notifytest.Server, _ store.Store, _ string) {
			r.SetAnswer(robotKey, notifytest.Answer{Delay: time.Minute})
		}, func(t *testing.T, r *notifytest.Server, _ store.Store, _ string) {
			r.SetAnswer(robotKey, notifytest.Answer{})
		}, 10 * time.Second, notify.StatusFailed},
	}
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, f := range failures {
				t.Run(f.name, func(t *testing.T) {
					t.Parallel()
					robots := notifytest.NewServer(notifytest.Options{})
					t.Cleanup(robots.Close)
					prefix := "wxcloudenv-owed-" + strings.ReplaceAll(f.name, " ", "-") + ":"
					stores := b.instances(t, 2)
					a, c := newInstance(t, stores[0], prefix, robots), newInstance(t, stores[1], prefix, robots)
					f.fail(t, robots, stores[0], prefix)

					ctx, cancel := context.WithTimeout(t.Context(), f.timeout)
					out := a.track(ctx, t0, haltedRun(n))
					cancel()
					if len(out.Changes) != n || len(out.Notifications) != 1 {
						t.Fatalf("first run: %d changes, notifications %+v", len(out.Changes), out.Notifications)
					}
					if o := out.Notifications[0]; o.OK || o.Status != f.status || o.Owed != n {
						t.Fatalf("first run's outcome %+v, want %s with %d owed\n%s", o, f.status, n, a.log.String())
					}
					if got := accepted(robots); len(got) != 0 {
						t.Fatalf("the robot accepted %d messages in the first run", len(got))
					}
					f.heal(t, robots, stores[0], prefix)

					// The next tick, on two instances at once: the same
					// state, nothing new claimed.
					var wg sync.WaitGroup
					outs := make([]alerts.Outcome, 2)
					for i, in := range []instance{a, c} {
						wg.Go(func() { outs[i] = in.track(t.Context(), t0.Add(time.Minute), haltedRun(n)) })
					}
					wg.Wait()
					got := accepted(robots)
					if len(got) != 1 {
						t.Fatalf("second run: the robot accepted %d messages, want 1; outcomes %+v %+v", len(got), outs[0].Notifications, outs[1].Notifications)
					}
					if m := mentions(got[0].Text, n); m != n || !strings.Contains(got[0].Text, "21 new") {
						t.Errorf("the owed message covers %d of %d changes:\n%s", m, n, got[0].Text)
					}
					for i := range outs {
						if len(outs[i].Changes) != 0 {
							t.Errorf("instance %d claimed %d changes again", i, len(outs[i].Changes))
						}
						for _, o := range outs[i].Notifications {
							if o.Owed != 0 {
								t.Errorf("instance %d: still owed %+v", i, o)
							}
						}
					}

					// And nothing is owed any more.
					out = c.track(t.Context(), t0.Add(2*time.Minute), haltedRun(n))
					if got := accepted(robots); len(got) != 1 || out.Notifications != nil {
						t.Errorf("third run: %d accepted messages, notifications %+v", len(got), out.Notifications)
					}
					for _, l := range []string{a.log.String(), c.log.String()} {
						if strings.Contains(l, robotKey) {
							t.Errorf("the robot's key reached a log: %s", l)
						}
					}
				})
			}
		})
	}
}

// TestOwedDroppedAfterADay: changes a robot does not accept for 24 hours
// are dropped with a log line and counted; never silently, never sent late.
func TestOwedDroppedAfterADay(t *testing.T) {
	t.Parallel()
	robots := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(robots.Close)
	robots.SetAnswer(robotKey, notifytest.Answer{ErrCode: 93000, ErrMsg: "invalid webhook url"})
	in := newInstance(t, store.NewMemory(), "wxcloudenv-drop:", robots)
	out := in.track(t.Context(), t0, haltedRun(3))
	if len(out.Notifications) != 1 || out.Notifications[0].Owed != 3 {
		t.Fatalf("first run: %+v", out.Notifications)
	}
	// Still refused a little under a day later: still owed.
	out = in.track(t.Context(), t0.Add(alerts.OwedFor-time.Minute), haltedRun(3))
	if out.Dropped != 0 || len(out.Notifications) != 1 || out.Notifications[0].Owed != 3 {
		t.Fatalf("under a day: dropped %d, %+v", out.Dropped, out.Notifications)
	}
	robots.SetAnswer(robotKey, notifytest.Answer{})
	out = in.track(t.Context(), t0.Add(alerts.OwedFor), haltedRun(3))
	if out.Dropped != 3 {
		t.Errorf("a day later: dropped %d, want 3", out.Dropped)
	}
	if m := alerts.Metrics(haltedRun(3), out); m.DroppedNotifications != 3 {
		t.Errorf("metrics %+v, want 3 dropped", m)
	}
	if got := accepted(robots); len(got) != 0 {
		t.Errorf("a day-old change was sent: %q", got[0].Text)
	}
	if !strings.Contains(in.log.String(), `"msg":"changes owed to a robot were dropped"`) || !strings.Contains(in.log.String(), `"dropped":3`) {
		t.Errorf("no log line for the drop:\n%s", in.log.String())
	}
}

// TestOwedAcrossChanges: what is owed goes first with what the next run
// claims, in one message; a resolution owed behind its outage reaches the
// robot too.
func TestOwedAcrossChanges(t *testing.T) {
	t.Parallel()
	robots := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(robots.Close)
	robots.SetAnswer(robotKey, notifytest.Answer{HTTPStatus: http.StatusServiceUnavailable})
	in := newInstance(t, store.NewMemory(), "wxcloudenv-across:", robots)
	in.track(t.Context(), t0, haltedRun(2))
	robots.SetAnswer(robotKey, notifytest.Answer{})
	// wx0001 recovered meanwhile.
	run := haltedRun(2)
	run.Alerts = run.Alerts[:1]
	out := in.track(t.Context(), t0.Add(time.Minute), run)
	got := accepted(robots)
	if len(got) != 1 || len(out.Changes) != 1 {
		t.Fatalf("%d accepted messages, changes %+v", len(got), out.Changes)
	}
	for _, want := range []string{"2 new, 1 resolved", "wx0000 ", "wx0001 "} {
		if !strings.Contains(got[0].Text, want) {
			t.Errorf("message lacks %q:\n%s", want, got[0].Text)
		}
	}
}

// TestMemoNeverHidesAChange: a run whose state is still owed to a robot
// leaves no confirmation behind, so a warm instance that sees an earlier
// state again within the memo's minute still claims its change.
func TestMemoNeverHidesAChange(t *testing.T) {
	t.Parallel()
	robots := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(robots.Close)
	in := newInstance(t, store.NewMemory(), "wxcloudenv-memo:", robots)
	in.track(t.Context(), t0, haltedRun(1))
	if out := in.track(t.Context(), t0.Add(time.Second), haltedRun(1)); len(out.Changes) != 0 || out.Notifications != nil {
		t.Fatalf("the same state: %+v", out)
	}
	robots.SetAnswer(robotKey, notifytest.Answer{HTTPStatus: http.StatusInternalServerError})
	healthy := alerts.Run{Checked: haltedRun(1).Checked}
	if out := in.track(t.Context(), t0.Add(2*time.Second), healthy); len(out.Changes) != 1 || out.Changes[0].Change != alerts.ChangeResolved {
		t.Fatalf("recovery: %+v", out.Changes)
	}
	robots.SetAnswer(robotKey, notifytest.Answer{})
	out := in.track(t.Context(), t0.Add(3*time.Second), haltedRun(1))
	if len(out.Changes) != 1 || out.Changes[0].Change != alerts.ChangeNew {
		t.Fatalf("halted again: changes %+v, want one new", out.Changes)
	}
	if got := accepted(robots); len(got) != 2 || !strings.Contains(got[1].Text, "1 new, 1 resolved") {
		t.Errorf("messages %d, want a second with the owed resolution and the new outage", len(got))
	}
}

// slowStore answers every operation 14 ms late (or when its context ends).
type slowStore struct{ store.Store }

func (s slowStore) wait(ctx context.Context) error {
	t := time.NewTimer(14 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("slow store: %w (%w)", store.ErrUnavailable, ctx.Err())
	}
}

func (s slowStore) Get(ctx context.Context, k string) (store.Value, error) {
	if err := s.wait(ctx); err != nil {
		return store.Value{}, err
	}
	return s.Store.Get(ctx, k)
}

func (s slowStore) GetMany(ctx context.Context, ks []string) (map[string]store.Value, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Store.GetMany(ctx, ks)
}

func (s slowStore) Set(ctx context.Context, k string, v store.Value) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	return s.Store.Set(ctx, k, v)
}

func (s slowStore) CompareAndSwap(ctx context.Context, k string, old []byte, v store.Value) (bool, error) {
	if err := s.wait(ctx); err != nil {
		return false, err
	}
	return s.Store.CompareAndSwap(ctx, k, old, v)
}

func (s slowStore) CompareAndDelete(ctx context.Context, k string, old []byte) (bool, error) {
	if err := s.wait(ctx); err != nil {
		return false, err
	}
	return s.Store.CompareAndDelete(ctx, k, old)
}

// TestSlowStoreDefers: a store at 14 ms an operation and a tight deadline
// leave no time to send: what the run claimed stays owed (nothing is
// dropped), what it did not reach stays unclaimed, and the next runs
// deliver every change exactly once.
func TestSlowStoreDefers(t *testing.T) {
	t.Parallel()
	const n = 30
	robots := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(robots.Close)
	in := newInstance(t, slowStore{store.NewMemory()}, "wxcloudenv-slow:", robots)
	// 600 ms: the state update's third (200 ms) cannot write 30 shards at
	// 14 ms each, and what is left is ample to record the claimed ones as
	// owed even on a loaded machine.
	ctx, cancel := context.WithTimeout(t.Context(), 600*time.Millisecond)
	out := in.track(ctx, t0, haltedRun(n))
	cancel()
	if out.Dropped != 0 || out.StateErr == nil || len(out.Changes) >= n {
		t.Fatalf("tight deadline: dropped %d, state error %v, %d changes claimed; want some claimed, none dropped\n%s", out.Dropped, out.StateErr, len(out.Changes), in.log.String())
	}
	for i := 1; i <= 3; i++ {
		out = in.track(t.Context(), t0.Add(time.Duration(i)*time.Minute), haltedRun(n))
		if out.Dropped != 0 {
			t.Fatalf("run %d dropped %d", i, out.Dropped)
		}
	}
	seen := map[string]int{}
	for _, m := range accepted(robots) {
		for i := range n {
			if strings.Contains(m.Text, fmt.Sprintf("wx%04d ", i)) {
				seen[fmt.Sprintf("wx%04d", i)]++
			}
		}
	}
	if len(seen) != n {
		t.Errorf("%d of %d changes reached the robot:\n%v\n%s", len(seen), n, seen, in.log.String())
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("%s reached the robot %d times", k, c)
		}
	}
}
