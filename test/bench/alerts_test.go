package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alerts"
	"github.com/wxcloudenv/wxcloudenv/internal/incident"
	"github.com/wxcloudenv/wxcloudenv/internal/names"
	"github.com/wxcloudenv/wxcloudenv/internal/notify"
	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// stormRun is a fleet run of n authorizers that all fail alike: n
// checked scopes and n failures, each a new change against an empty state.
func stormRun(n int) (alerts.Run, []string, []incident.Check) {
	var run alerts.Run
	ids := make([]string, n)
	checks := make([]incident.Check, n)
	for i := range n {
		ids[i] = fmt.Sprintf("wxb%014d", i)
		run.Checked = append(run.Checked, alerts.Scope{Operation: "getenvinfo", Authorizer: ids[i]})
		run.Failures = append(run.Failures, alerts.Failure{Authorizer: ids[i], Operation: "getenvinfo", Kind: "permission", ErrCode: 85088,
			Message: "the app has no cloud development (qbase) privilege"})
		checks[i] = incident.Check{Reached: true, Failure: &incident.Failure{Kind: "permission", ErrCode: 85088}}
	}
	return run, ids, checks
}

// BenchmarkAlertPath10000 is the alert path of one run over 10,000
// authorizers with 10,000 new changes, state in memory and one WeCom robot
// on notifytest: "baseline" is one line per change (cut to
// the robot's limit), "wxcloudenv" adds what incidents cost — the names
// read in one batch, root cause over every check, grouping in the message
// and the event's incidents.
func BenchmarkAlertPath10000(b *testing.B) {
	const n = 10000
	robots := notifytest.NewServer(notifytest.Options{})
	b.Cleanup(robots.Close)
	chans, err := notify.Parse(robots.WeComURL("bench-alert-path"), notify.Secrets{})
	if err != nil {
		b.Fatal(err)
	}
	run, ids, checks := stormRun(n)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	track := func(b *testing.B, groupMin int, prepare func(st store.Store) (alerts.Run, map[string]string)) {
		for b.Loop() {
			b.StopTimer()
			st := store.NewMemory()
			for _, id := range ids {
				data, _ := json.Marshal(names.Entry{Name: "商户-" + id[len(id)-5:], Known: true, CloudDevelopment: true})
				st.Set(context.Background(), names.Key("b:", id), store.Value{Data: data})
			}
			tr := &alerts.Tracker{Store: st, Prefix: "b:", Repeat: 24 * time.Hour, GroupMin: groupMin,
				Notifier: &notify.Notifier{Channels: chans, Store: st, Prefix: "b:"}}
			b.StartTimer()
			r, nm := prepare(st)
			out := tr.Track(context.Background(), alerts.Input{Run: r, Now: now, Platform: "aws-lambda", Function: "bench", Names: nm})
			if len(out.Changes) != n || len(out.Notifications) != 1 || out.Notifications[0].Status != "sent" {
				b.Fatalf("changes %d, notifications %+v", len(out.Changes), out.Notifications)
			}
		}
	}
	b.Run("baseline", func(b *testing.B) {
		b.ReportAllocs()
		track(b, 0, func(store.Store) (alerts.Run, map[string]string) { return run, nil })
	})
	b.Run("wxcloudenv", func(b *testing.B) {
		b.ReportAllocs()
		track(b, incident.DefaultGroupMin, func(st store.Store) (alerts.Run, map[string]string) {
			book := &names.Book{Store: st, Prefix: "b:"}
			got, _, err := book.Load(context.Background(), ids, nil)
			if err != nil || len(got) != n {
				b.Fatalf("names: %d, %v", len(got), err)
			}
			a := incident.Analyze(incident.Facts{Operation: "getenvinfo", Checks: checks})
			if len(a.Causes) != 0 {
				b.Fatalf("causes %+v", a.Causes)
			}
			nm := make(map[string]string, len(got))
			for id, e := range got {
				nm[id] = e.Name
			}
			return run, nm
		})
	})
}
