package alerts_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alerts"
	"github.com/wxcloudenv/wxcloudenv/internal/notify"
	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
	"github.com/wxcloudenv/wxcloudenv/internal/robots"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

const (
	ownerKeyA  = "wecom-owner-a-robot-key-5f1e"
	ownerKeyB  = "dingtalk-owner-b-robot-token-77aa"
	sharedKey  = "feishu-owner-shared-hook-0c3d"
	ownerAppA  = "wx0000"
	ownerAppB  = "wx0001"
	ownerAppC  = "wx0002"
	noOwnerApp = "wx0003"
)

// TestOwnerRobots: each authorizer's own robot gets its lines only, in its
// own message; a robot two authorizers registered gets both; the platform
// robot gets everything, the platform-level failure included, which no
// owner robot gets; a robot that fails stays owed its own share only.
// Over every backend.
func TestOwnerRobots(t *testing.T) {
	t.Parallel()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			st := b.instances(t, 1)[0]
			prefix := "wxcloudenv-owners-" + b.name + ":"
			srv := notifytest.NewServer(notifytest.Options{})
			t.Cleanup(srv.Close)
			put := func(appid string, urls ...string) {
				t.Helper()
				if err := robots.Put(ctx, st, prefix, appid, urls); err != nil {
					t.Fatal(err)
				}
			}
			put(ownerAppA, srv.WeComURL(ownerKeyA), srv.FeishuURL(sharedKey))
			put(ownerAppB, srv.DingTalkURL(ownerKeyB))
			put(ownerAppC, srv.FeishuURL(sharedKey))
			in := newInstance(t, st, prefix, srv)

			run := haltedRun(4)
			// A platform-level failure: no authorizer.
			run.Checked = append(run.Checked, alerts.Scope{Operation: "getenvinfo"})
			run.Failures = append(run.Failures, alerts.Failure{Operation: "getenvinfo", Kind: "auth", ErrCode: 61004,
				Message: "the component token could not be had"})
			out := in.track(ctx, t0, run)
			if len(out.Changes) != 5 {
				t.Fatalf("changes = %+v", out.Changes)
			}
			byChannel := map[string]notify.Outcome{}
			for _, o := range out.Notifications {
				byChannel[o.Channel+" "+strings.Join(o.Authorizers, ",")] = o
			}
			if len(out.Notifications) != 4 {
				t.Errorf("outcomes = %+v, want the platform robot and three owner robots", out.Notifications)
			}
			for _, o := range out.Notifications {
				if o.Status != notify.StatusSent {
					t.Errorf("%+v not sent", o)
				}
			}

			platform := accepted(srv)
			if len(platform) != 1 || mentions(platform[0].Text, 4) != 4 || !strings.Contains(platform[0].Text, "61004") {
				t.Fatalf("platform robot got %d messages; want one with every line and the platform failure", len(platform))
			}
			only := func(key string, want ...string) {
				t.Helper()
				msgs := srv.ReceivedBy(key)
				if len(msgs) != 1 {
					t.Fatalf("%s got %d messages, want 1", key, len(msgs))
				}
				for _, app := range []string{ownerAppA, ownerAppB, ownerAppC, noOwnerApp} {
					has := strings.Contains(msgs[0].Text, app+" ")
					if has != contains(want, app) {
						t.Errorf("%s's message names %s: %v, want %v\n%s", key, app, has, contains(want, app), msgs[0].Text)
					}
				}
				if strings.Contains(msgs[0].Text, "61004") {
					t.Errorf("%s got the platform-level failure:\n%s", key, msgs[0].Text)
				}
			}
			only(ownerKeyA, ownerAppA)
			only(ownerKeyB, ownerAppB)
			only(sharedKey, ownerAppA, ownerAppC)

			// Owner B's robot fails: it stays owed B's line, and only that;
			// the others are not sent to again.
			srv.SetAnswer(ownerKeyB, notifytest.Answer{HTTPStatus: http.StatusServiceUnavailable})
			// The platform scope checked again, and fine.
			run = haltedRun(4)
			run.Checked = append(run.Checked, alerts.Scope{Operation: "getenvinfo"})
			out = in.track(ctx, t0.Add(time.Minute), run)
			if len(out.Changes) != 1 || out.Changes[0].Change != alerts.ChangeResolved || out.Changes[0].Authorizer != "" {
				t.Fatalf("second run's changes = %+v, want the platform failure resolved", out.Changes)
			}
			if len(srv.ReceivedBy(ownerKeyA)) != 1 || len(srv.ReceivedBy(sharedKey)) != 1 {
				t.Errorf("a platform-level resolution reached an owner robot")
			}
			run = haltedRun(4)
			run.Checked = append(run.Checked, alerts.Scope{Operation: "getenvinfo"})
			run.Alerts = append(run.Alerts, alerts.Alert{Authorizer: ownerAppB, Operation: "getenvinfo", Env: "env-wx0001-b",
				Resource: "environment", Status: "UNAVAILABLE", Message: "environment env-wx0001-b is UNAVAILABLE"})
			run.Alerts = append(run.Alerts, alerts.Alert{Authorizer: noOwnerApp, Operation: "getenvinfo", Env: "env-wx0003-b",
				Resource: "environment", Status: "UNAVAILABLE", Message: "environment env-wx0003-b is UNAVAILABLE"})
			out = in.track(ctx, t0.Add(2*time.Minute), run)
			var owedB int
			for _, o := range out.Notifications {
				if len(o.Authorizers) == 1 && o.Authorizers[0] == ownerAppB {
					owedB = o.Owed
					if o.Status != notify.StatusFailed {
						t.Errorf("owner B's outcome = %+v", o)
					}
				}
			}
			if owedB != 1 || len(out.Changes) != 2 {
				t.Errorf("owner B's robot is owed %d changes, want 1 (its new line, not the other authorizer's); changes %+v", owedB, out.Changes)
			}
			srv.SetAnswer(ownerKeyB, notifytest.Answer{})
			out = in.track(ctx, t0.Add(3*time.Minute), run)
			if len(out.Changes) != 0 {
				t.Errorf("changes = %+v", out.Changes)
			}
			var last notifytest.Received
			for _, r := range srv.ReceivedBy(ownerKeyB) {
				if r.Accepted {
					last = r
				}
			}
			if !strings.Contains(last.Text, "env-wx0001-b") || strings.Contains(last.Text, "env-wx0003-b") {
				t.Errorf("owner B's owed message:\n%s", last.Text)
			}

			logs := in.log.String()
			for _, k := range []string{ownerKeyA, ownerKeyB, sharedKey, robotKey} {
				if strings.Contains(logs, k) || strings.Contains(strings.Join(outcomeTexts(out), " "), k) {
					t.Errorf("a robot key reached the log or the outcomes")
				}
			}
		})
	}
}

// TestOwnerRobotsOnly: with no platform robot, owner robots still hear
// their authorizers.
func TestOwnerRobotsOnly(t *testing.T) {
	t.Parallel()
	srv := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(srv.Close)
	st := store.NewMemory()
	if err := robots.Put(t.Context(), st, "p:", ownerAppA, []string{srv.WeComURL(ownerKeyA)}); err != nil {
		t.Fatal(err)
	}
	tr := &alerts.Tracker{Store: st, Prefix: "p:", Notifier: &notify.Notifier{Store: st, Prefix: "p:"}}
	out := tr.Track(t.Context(), alerts.Input{Run: haltedRun(2), Now: t0, Platform: "local", Function: "owners",
		Log: slog.New(slog.DiscardHandler)})
	if len(out.Notifications) != 1 || out.Notifications[0].Status != notify.StatusSent {
		t.Fatalf("outcomes = %+v", out.Notifications)
	}
	if msgs := srv.ReceivedBy(ownerKeyA); len(msgs) != 1 || !strings.Contains(msgs[0].Text, ownerAppA+" ") || strings.Contains(msgs[0].Text, ownerAppB+" ") {
		t.Errorf("owner A got %+v", msgs)
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func outcomeTexts(out alerts.Outcome) []string {
	var s []string
	for _, o := range out.Notifications {
		s = append(s, o.Channel, o.Error)
	}
	return s
}

// failingRegistry is a store whose robot registry cannot be read.
type failingRegistry struct{ store.Store }

func (f failingRegistry) GetMany(ctx context.Context, keys []string) (map[string]store.Value, error) {
	if len(keys) > 0 && strings.Contains(keys[0], "robots:") {
		return nil, fmt.Errorf("registry down: %w", store.ErrUnavailable)
	}
	return f.Store.GetMany(ctx, keys)
}

// TestOwnerRobotsUnreadable: when the registry cannot be read, the
// platform robot still gets the run's message, the run says why in its
// log, and it is not taken as settled (the next run compares again).
func TestOwnerRobotsUnreadable(t *testing.T) {
	t.Parallel()
	srv := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(srv.Close)
	st := failingRegistry{store.NewMemory()}
	in := newInstance(t, st, "p:", srv)
	out := in.track(t.Context(), t0, haltedRun(2))
	if len(out.Notifications) != 1 || out.Notifications[0].Status != notify.StatusSent || len(accepted(srv)) != 1 {
		t.Fatalf("outcomes = %+v", out.Notifications)
	}
	if !strings.Contains(in.log.String(), "own robots could not all be read") {
		t.Errorf("no log line says the owner robots were missed:\n%s", in.log.String())
	}
	// Not settled: the same state again is compared with the store, not
	// taken from the memo (which would skip the robots' turn).
	out = in.track(t.Context(), t0.Add(time.Minute), haltedRun(2))
	if strings.Count(in.log.String(), "own robots could not all be read") != 2 {
		t.Errorf("the second run did not look at the registry again:\n%s", in.log.String())
	}
}

// countingStore counts the outbox heads read in batches.
type countingStore struct {
	store.Store
	heads *atomic.Int64
}

func (c countingStore) GetMany(ctx context.Context, keys []string) (map[string]store.Value, error) {
	for _, k := range keys {
		if strings.Contains(k, "notify:outbox:") {
			c.heads.Add(1)
		}
	}
	return c.Store.GetMany(ctx, keys)
}

// TestOwnerRobotOwedThroughIndex: an owner robot that did not accept its
// message is listed in the owed index and gets it in the next run that
// has nothing new for it; once it accepted, the index is empty again, and
// runs with nothing new read no owner robot's outbox.
func TestOwnerRobotOwedThroughIndex(t *testing.T) {
	t.Parallel()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			var heads atomic.Int64
			st := countingStore{b.instances(t, 1)[0], &heads}
			prefix := "wxcloudenv-owed-index-" + b.name + ":"
			srv := notifytest.NewServer(notifytest.Options{})
			t.Cleanup(srv.Close)
			for i := range 50 {
				// Many owner robots, one per authorizer.
				u := srv.WeComURL(fmt.Sprintf("owner-index-key-%02d", i))
				if err := robots.Put(ctx, st, prefix, fmt.Sprintf("wx%04d", i), []string{u}); err != nil {
					t.Fatal(err)
				}
			}
			in := newInstance(t, st, prefix, srv)
			srv.SetAnswer("owner-index-key-01", notifytest.Answer{HTTPStatus: http.StatusServiceUnavailable})
			out := in.track(ctx, t0, haltedRun(3))
			if len(out.Changes) != 3 || len(out.Notifications) != 4 {
				t.Fatalf("first run: changes %d, outcomes %+v", len(out.Changes), out.Notifications)
			}
			index, err := st.Get(ctx, prefix+"notify:owed-owners")
			if err != nil || strings.Count(string(index.Data), ":") != 1 {
				t.Fatalf("the index lists %s (%v), want the one robot still owed", index.Data, err)
			}

			// Nothing new for anyone; the robot now accepts.
			srv.SetAnswer("owner-index-key-01", notifytest.Answer{})
			heads.Store(0)
			out = in.track(ctx, t0.Add(time.Minute), haltedRun(3))
			var got []notify.Outcome
			for _, o := range out.Notifications {
				if len(o.Authorizers) > 0 {
					got = append(got, o)
				}
			}
			if len(got) != 1 || got[0].Authorizers[0] != "wx0001" || got[0].Status != notify.StatusSent {
				t.Fatalf("second run's owner outcomes = %+v, want wx0001's owed message sent", got)
			}
			if n := heads.Load(); n > 3 {
				t.Errorf("the second run read %d outbox heads in batches, want the platform robot's and the listed one's at most", n)
			}
			msgs := srv.ReceivedBy("owner-index-key-01")
			if last := msgs[len(msgs)-1]; !last.Accepted || !strings.Contains(last.Text, "wx0001 ") || strings.Contains(last.Text, "wx0002 ") {
				t.Errorf("the owed message: %+v", last)
			}
			if _, err := st.Get(ctx, prefix+"notify:owed-owners"); err == nil {
				v, _ := st.Get(ctx, prefix+"notify:owed-owners")
				t.Errorf("the index still lists %s", v.Data)
			}

			// A third run with nothing owed reads no owner robot's head.
			heads.Store(0)
			in.tr.Notifier.Channels = in.tr.Notifier.Channels[:0]
			run := haltedRun(3)
			run.Checked = append(run.Checked, alerts.Scope{Operation: "getenvinfo", Authorizer: "wx0049"})
			out = in.track(ctx, t0.Add(2*time.Minute), run)
			if n := heads.Load(); n != 0 || len(out.Notifications) != 0 {
				t.Errorf("an idle run read %d owner heads; outcomes %+v", n, out.Notifications)
			}
			if n := len(srv.ReceivedBy("owner-index-key-01")); n != len(msgs) {
				t.Errorf("the robot got %d messages, want still %d", n, len(msgs))
			}
		})
	}
}

// TestOwnerRobotsQueuedRun: the changes a queued fleet run's batches
// claimed, delivered by its last batch, reach the owner robots too, each
// its own authorizer's only.
func TestOwnerRobotsQueuedRun(t *testing.T) {
	t.Parallel()
	srv := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(srv.Close)
	st := store.NewMemory()
	if err := robots.Put(t.Context(), st, "p:", ownerAppB, []string{srv.DingTalkURL(ownerKeyB)}); err != nil {
		t.Fatal(err)
	}
	in := newInstance(t, st, "p:", srv)
	var claimed []alerts.Change
	for _, a := range haltedRun(3).Alerts {
		claimed = append(claimed, alerts.Change{Change: alerts.ChangeNew, Authorizer: a.Authorizer, Operation: a.Operation,
			Env: a.Env, Resource: a.Resource, Status: a.Status, Message: a.Message, Since: t0})
	}
	out := in.tr.Deliver(t.Context(), alerts.Input{Now: t0, Platform: "local", Function: "queued", Log: slog.New(slog.DiscardHandler)}, claimed)
	if len(out.Notifications) != 2 {
		t.Fatalf("outcomes = %+v, want the platform robot and owner B's", out.Notifications)
	}
	msgs := srv.ReceivedBy(ownerKeyB)
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, ownerAppB+" ") || strings.Contains(msgs[0].Text, ownerAppA+" ") {
		t.Errorf("owner B got %+v", msgs)
	}
	if p := accepted(srv); len(p) != 1 || mentions(p[0].Text, 3) != 3 {
		t.Errorf("the platform robot got %d messages", len(p))
	}
}
