package alerts_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alerts"
	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
	"github.com/wxcloudenv/wxcloudenv/internal/owners"
	"github.com/wxcloudenv/wxcloudenv/internal/silence"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// TestSilenceAndOwners: a silenced change is marked and not sent (nor its
// resolution); the silence's end sends what it covered once, on whichever
// instance runs first; an authorizer's own robot gets its lines only.
func TestSilenceAndOwners(t *testing.T) {
	t.Parallel()
	// Silences expire in the store by the real clock: the run's time is now.
	now0 := time.Now().UTC().Truncate(time.Second)
	robots := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(robots.Close)
	st := store.NewMemory()
	const prefix = "t:"
	book := &silence.Book{Store: st, Prefix: prefix}
	own := &owners.Book{Store: st, Prefix: prefix}
	if err := own.Put(context.Background(), "wx0001", []string{robots.WeComURL("owner-key")}); err != nil {
		t.Fatal(err)
	}
	newTracker := func() *alerts.Tracker {
		in := newInstance(t, st, prefix, robots)
		in.tr.Silences, in.tr.Owners, in.tr.GroupMin = book, own, 3
		return in.tr
	}
	a, b := newTracker(), newTracker()
	s, err := silence.Parse([]byte(`{"matchers":{"authorizer":"wx0002"},"duration":"1h"}`), now0)
	if err != nil {
		t.Fatal(err)
	}
	if err := book.Create(context.Background(), s, now0); err != nil {
		t.Fatal(err)
	}
	track := func(tr *alerts.Tracker, at time.Time, run alerts.Run) alerts.Outcome {
		return tr.Track(context.Background(), alerts.Input{Run: run, Now: at})
	}

	out := track(a, now0, haltedRun(3))
	if out.Silenced != 1 || len(out.Changes) != 3 {
		t.Fatalf("silenced %d of %d changes, want 1 of 3", out.Silenced, len(out.Changes))
	}
	for _, c := range out.Changes {
		if (c.Authorizer == "wx0002") != (c.Silenced == s.ID) {
			t.Fatalf("change %+v", c)
		}
	}
	platform := accepted(robots)
	if len(platform) != 1 || strings.Contains(platform[0].Text, "wx0002") || !strings.Contains(platform[0].Text, "wx0000") {
		t.Fatalf("the platform's robot got %+v", platform)
	}
	owner := robots.ReceivedBy("owner-key")
	if len(owner) != 1 || !strings.Contains(owner[0].Text, "wx0001") || strings.Contains(owner[0].Text, "wx0000") {
		t.Fatalf("the owner's robot got %+v", owner)
	}

	// The silence ends; the next run, on either instance, sends what it
	// covered once; the other finds nothing to send.
	if err := book.End(context.Background(), s.ID, now0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	track(b, now0.Add(2*time.Minute), haltedRun(3))
	track(a, now0.Add(3*time.Minute), haltedRun(3))
	platform = accepted(robots)
	if len(platform) != 2 || !strings.Contains(platform[1].Text, "STILL OPEN") || !strings.Contains(platform[1].Text, "wx0002") {
		t.Fatalf("after the end the platform's robot got %d messages: %+v", len(platform), platform)
	}
}
