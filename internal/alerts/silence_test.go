package alerts_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alerts"
	"github.com/wxcloudenv/wxcloudenv/internal/notify"
	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
	"github.com/wxcloudenv/wxcloudenv/internal/robots"
	"github.com/wxcloudenv/wxcloudenv/internal/silence"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// TestSilenceAndOwnerRobots: a silenced change is marked and sent to no
// robot, platform or owner (nor its resolution); the silence's end sends
// what it covered once, on whichever instance runs first, to the platform
// robot and to the silenced authorizer's own robot; an authorizer's own
// robot gets its lines only, and a robot several authorizers share gets
// their changes grouped as the platform robot's are.
func TestSilenceAndOwnerRobots(t *testing.T) {
	t.Parallel()
	// Silences expire in the store by the real clock: the run's time is now.
	now0 := time.Now().UTC().Truncate(time.Second)
	srv := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(srv.Close)
	st := store.NewMemory()
	const prefix = "t:"
	ctx := context.Background()
	book := &silence.Book{Store: st, Prefix: prefix}
	if err := robots.Put(ctx, st, prefix, "wx0001", []string{srv.WeComURL("owner-key")}); err != nil {
		t.Fatal(err)
	}
	// wx0002 (silenced) to wx0005 share one robot.
	for i := 2; i <= 5; i++ {
		if err := robots.Put(ctx, st, prefix, fmt.Sprintf("wx%04d", i), []string{srv.WeComURL("shared-key")}); err != nil {
			t.Fatal(err)
		}
	}
	newTracker := func() *alerts.Tracker {
		in := newInstance(t, st, prefix, srv)
		in.tr.Silences, in.tr.GroupMin = book, 3
		return in.tr
	}
	a, b := newTracker(), newTracker()
	s, err := silence.Parse([]byte(`{"matchers":{"authorizer":"wx0002"},"duration":"1h"}`), now0)
	if err != nil {
		t.Fatal(err)
	}
	if err := book.Create(ctx, s, now0); err != nil {
		t.Fatal(err)
	}
	track := func(tr *alerts.Tracker, at time.Time, run alerts.Run) alerts.Outcome {
		return tr.Track(ctx, alerts.Input{Run: run, Now: at})
	}

	out := track(a, now0, haltedRun(6))
	if out.Silenced != 1 || len(out.Changes) != 6 {
		t.Fatalf("silenced %d of %d changes, want 1 of 6", out.Silenced, len(out.Changes))
	}
	for _, c := range out.Changes {
		if (c.Authorizer == "wx0002") != (c.Silenced == s.ID) {
			t.Fatalf("change %+v", c)
		}
	}
	platform := accepted(srv)
	if len(platform) != 1 || strings.Contains(platform[0].Text, "wx0002") || mentions(platform[0].Text, 6) != 5 {
		t.Fatalf("the platform's robot got %+v", platform)
	}
	owner := srv.ReceivedBy("owner-key")
	if len(owner) != 1 || !strings.Contains(owner[0].Text, "wx0001") || mentions(owner[0].Text, 6) != 1 {
		t.Fatalf("the owner's robot got %+v", owner)
	}
	shared := srv.ReceivedBy("shared-key")
	if len(shared) != 1 || strings.Contains(shared[0].Text, "wx0002") || mentions(shared[0].Text, 6) != 3 {
		t.Fatalf("the shared owner robot got %+v", shared)
	}
	// Grouped: the three HALTED changes are one line, as the platform
	// robot's message renders them.
	want := notify.Render(notify.WeCom, notify.Report{Changes: sharedChanges(out.Changes), GroupMin: 3})
	ungrouped := notify.Render(notify.WeCom, notify.Report{Changes: sharedChanges(out.Changes)})
	if lines(shared[0].Text) != lines(want.Text) || lines(want.Text) >= lines(ungrouped.Text) {
		t.Fatalf("the shared owner robot's message is not grouped (%d lines; grouped %d, ungrouped %d):\n%s",
			lines(shared[0].Text), lines(want.Text), lines(ungrouped.Text), shared[0].Text)
	}

	// The silence ends; the next run, on either instance, sends what it
	// covered once; the other finds nothing to send.
	if err := book.End(ctx, s.ID, now0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	track(b, now0.Add(2*time.Minute), haltedRun(6))
	track(a, now0.Add(3*time.Minute), haltedRun(6))
	platform = accepted(srv)
	if len(platform) != 2 || !strings.Contains(platform[1].Text, "STILL OPEN") || !strings.Contains(platform[1].Text, "wx0002") {
		t.Fatalf("after the end the platform's robot got %d messages: %+v", len(platform), platform)
	}
	shared = srv.ReceivedBy("shared-key")
	if len(shared) != 2 || !strings.Contains(shared[1].Text, "STILL OPEN") || mentions(shared[1].Text, 6) != 1 || !strings.Contains(shared[1].Text, "wx0002") {
		t.Fatalf("after the end the shared owner robot got %d messages: %+v", len(shared), shared)
	}
	if owner := srv.ReceivedBy("owner-key"); len(owner) != 1 {
		t.Fatalf("the end of wx0002's silence reached wx0001's robot: %+v", owner)
	}
}

// sharedChanges are the changes of wx0003 to wx0005.
func sharedChanges(cs []alerts.Change) []alerts.Change {
	var out []alerts.Change
	for _, c := range cs {
		if c.Authorizer >= "wx0003" && c.Authorizer <= "wx0005" {
			out = append(out, c)
		}
	}
	return out
}

func lines(s string) int { return strings.Count(strings.TrimSpace(s), "\n") + 1 }
