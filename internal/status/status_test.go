package status_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alertstate"
	"github.com/wxcloudenv/wxcloudenv/internal/history"
	"github.com/wxcloudenv/wxcloudenv/internal/robots"
	"github.com/wxcloudenv/wxcloudenv/internal/status"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
	"github.com/wxcloudenv/wxcloudenv/internal/tokens"
)

const prefix = "wxcloudenv:"

// Hostile texts as WeChat or a person might send them.
var hostile = []string{
	`<script>alert(1)</script>`,
	`"><img src=x onerror=alert(2)>`,
	`' onmouseover='alert(3)`,
	strings.Repeat("W", 3000),
}

// seed fills st as n authorizers and a week of runs every interval would:
// failing authorizers fail with 61023, each alerting one has a HALTED
// environment, and every 12th run claims a burst of changes.
func seed(t testing.TB, st store.Store, now time.Time, n int, interval time.Duration, alias string) {
	t.Helper()
	ctx := context.Background()
	run := alertstate.Run{}
	for i := range n {
		a := fmt.Sprintf("wx%08d", i)
		run.Checked = append(run.Checked, alertstate.Scope{Operation: "getenvinfo", Authorizer: a})
		switch {
		case i%10 == 3:
			run.Failures = append(run.Failures, alertstate.Failure{Authorizer: a, Operation: "getenvinfo", Kind: "auth", ErrCode: 61023,
				Message: "the authorizer's refresh token was rejected " + alias})
		case i%10 == 7:
			run.Alerts = append(run.Alerts, alertstate.Alert{Authorizer: a, Operation: "getenvinfo", Env: "prod-" + a, Resource: "environment",
				Status: "HALTED", Message: "environment prod-" + a + " (" + alias + ") is HALTED, not NORMAL"})
		}
	}
	if _, err := alertstate.Update(ctx, st, prefix, now.Add(-3*time.Hour), run, 0); err != nil {
		t.Fatal(err)
	}
	start := now.Add(-history.TTL + time.Minute)
	k := 0
	for at := start; at.Before(now); at = at.Add(interval) {
		k++
		r := history.Run{Time: at, Kind: history.KindFleet, Trigger: "schedule", Operations: 1, Authorizers: n,
			FailedAuthorizers: n/10 + k%7, Alerts: n/10 + k%5, DurationMS: 41000}
		var changes []history.Change
		if k%12 == 0 {
			for j := range 40 {
				changes = append(changes, history.Change{Change: "new", Authorizer: fmt.Sprintf("wx%08d", (k*40+j)%n), Operation: "getenvinfo",
					Env: "prod-x", Resource: "environment", Status: "HALTED", Message: "environment prod-x (" + alias + ") is HALTED"})
			}
		}
		if err := history.Record(ctx, st, prefix, fmt.Sprintf("req-%d", k), r, changes); err != nil {
			t.Fatal(err)
		}
	}
	tk := tokens.Keys{Prefix: prefix}
	ticket, _ := json.Marshal(map[string]any{"ticket": "ticket@@@secret-ticket-value", "create_time": now.Add(-45 * time.Minute).Unix()})
	if err := st.Set(ctx, tk.Ticket("wxcomponent"), store.Value{Data: ticket, Expires: now.Add(11 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
}

func source(st store.Store, now time.Time, names map[string]string) status.Source {
	return status.Source{Store: st, Prefix: prefix, ComponentAppID: "wxcomponent", Now: now,
		Names: func(_ context.Context, appids []string) map[string]string { return names }}
}

// TestPage10000 is the status page's size bound (docs/status-page.md): 10,000
// authorizers and 7 days of history (a run every 5 minutes) make a page
// of at most 1 MB that still counts everything. (The time is measured by
// BenchmarkPage10000.)
func TestPage10000(t *testing.T) {
	now := testNow()
	st := store.NewMemory()
	st.Now = func() time.Time { return now }
	seed(t, st, now, 10000, 5*time.Minute, "Merchant")
	d, err := status.Load(context.Background(), source(st, now, nil))
	if err != nil {
		t.Fatal(err)
	}
	page := d.HTML()
	if len(page) > 1<<20 {
		t.Errorf("page is %d bytes, over 1 MB", len(page))
	}
	t.Logf("page: %d bytes; %d runs, %d changes, %d incidents", len(page), len(d.Runs), len(d.Changes), len(d.Incidents))
	if d.Counts.Authorizers != 10000 || d.Counts.Failing != 1000 || d.Counts.OpenAlerts != 1000 {
		t.Errorf("counts = %+v, want 10000 authorizers, 1000 failing, 1000 open alerts", d.Counts)
	}
	if len(d.Alerts) != status.MaxListed || d.AlertsOmitted != 500 {
		t.Errorf("alerts listed %d, omitted %d; want %d and 500", len(d.Alerts), d.AlertsOmitted, status.MaxListed)
	}
	if len(d.Runs) != 2016 || len(d.Changes) != status.MaxChanges {
		t.Errorf("runs %d, changes %d; want 2016 and %d", len(d.Runs), len(d.Changes), status.MaxChanges)
	}
	if len(d.Incidents) != 2 || d.Incidents[0].Count != 1000 {
		t.Fatalf("incidents = %+v, want two of 1000", d.Incidents)
	}
	j, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(j) > 2<<20 {
		t.Errorf("status.json is %d bytes", len(j))
	}
	if strings.Contains(string(page)+string(j), "secret-ticket-value") {
		t.Error("the verify ticket's value is on the page")
	}
	if out := os.Getenv("STATUS_PAGE_OUT"); out != "" {
		if err := os.WriteFile(filepath.Join(out, "status-10000.html"), page, 0o644); err != nil {
			t.Error(err)
		}
	}
}

// BenchmarkPage10000 reads and renders the page of 10,000 authorizers and
// a week of runs every 5 minutes, from the memory store and from a real
// Redis (docs/status-page.md: within 1 s).
func BenchmarkPage10000(b *testing.B) {
	now := time.Now().UTC()
	for _, backend := range []string{"memory", "redis"} {
		b.Run(backend, func(b *testing.B) {
			var st store.Store = store.NewMemory()
			if backend == "redis" {
				s, err := store.Open(storetest.StartRedis(b))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				st = s
			}
			seed(b, st, now, 10000, 5*time.Minute, "Merchant")
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			var size int
			for b.Loop() {
				d, err := status.Load(ctx, source(st, now, nil))
				if err != nil {
					b.Fatal(err)
				}
				size = len(d.HTML())
			}
			b.ReportMetric(float64(size), "html-bytes")
		})
	}
}

// TestHostileTextsEscaped: names, aliases and messages with markup render
// as text, in element text and in attribute values alike.
func TestHostileTextsEscaped(t *testing.T) {
	now := testNow()
	for i, h := range hostile {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			st := store.NewMemory()
			st.Now = func() time.Time { return now }
			seed(t, st, now, 40, time.Hour, h)
			names := map[string]string{}
			for j := range 40 {
				names[fmt.Sprintf("wx%08d", j)] = h
			}
			d, err := status.Load(context.Background(), source(st, now, names))
			if err != nil {
				t.Fatal(err)
			}
			a, err := status.LoadAuthorizer(context.Background(), source(st, now, names), "wx00000007")
			if err != nil {
				t.Fatal(err)
			}
			for name, page := range map[string][]byte{"main": d.HTML(), "authorizer": a.HTML()} {
				s := string(page)
				for _, bad := range []string{"<script", "<img", "onmouseover='"} {
					if strings.Contains(s, bad) {
						t.Errorf("%s page contains %q", name, bad)
					}
				}
				if strings.ContainsAny(h, `<>"'&`) && strings.Contains(s, h) {
					t.Errorf("%s page contains the text unescaped", name)
				}
				// Long texts are cut (names at 64 runes): their start shows.
				if !strings.Contains(s, escapeForTest(h[:min(len(h), 60)])) {
					t.Errorf("%s page does not show the text escaped", name)
				}
				checkTags(t, name, s)
			}
		})
	}
}

func escapeForTest(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

var tagRE = regexp.MustCompile(`<(/?)([a-zA-Z][a-zA-Z0-9]*)`)

// allowedTags are the only elements the page writes.
var allowedTags = map[string]bool{"html": true, "head": true, "meta": true, "title": true, "style": true, "body": true, "main": true,
	"header": true, "h1": true, "h2": true, "h3": true, "p": true, "a": true, "section": true, "div": true, "b": true, "span": true,
	"table": true, "thead": true, "tbody": true, "tr": true, "th": true, "td": true, "code": true, "br": true, "time": true,
	"figure": true, "figcaption": true, "svg": true, "line": true, "text": true, "polyline": true, "ul": true, "li": true}

func checkTags(t *testing.T, name, s string) {
	t.Helper()
	for _, m := range tagRE.FindAllStringSubmatch(s, -1) {
		if !allowedTags[strings.ToLower(m[2])] {
			t.Errorf("%s page has an element <%s>", name, m[2])
		}
	}
}

func TestGroupingAndAuthorizerPage(t *testing.T) {
	now := testNow()
	st := store.NewMemory()
	st.Now = func() time.Time { return now }
	seed(t, st, now, 30, time.Hour, "Shop")
	d, err := status.Load(context.Background(), source(st, now, map[string]string{"wx00000003": "Tea House"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Incidents) != 2 {
		t.Fatalf("incidents = %+v", d.Incidents)
	}
	for _, in := range d.Incidents {
		if in.Count != 3 || !in.Since.Equal(now.Add(-3*time.Hour)) {
			t.Errorf("incident %s: count %d since %v; want 3 since 3h ago", in.Key, in.Count, in.Since)
		}
	}
	if in := d.Incidents[1]; in.Key != "getenvinfo/operation/auth/61023" || in.Names[0] != "Tea House" {
		t.Errorf("second incident = %+v, want the 61023 failures, Tea House first", in)
	}
	if tk := d.Tokens[0]; tk.Status != "STALE" || !strings.Contains(tk.Detail, "45m") {
		t.Errorf("verify ticket health = %+v, want STALE, 45m", tk)
	}
	if len(d.LastRuns) != 1 || d.LastRuns[0].Kind != history.KindFleet {
		t.Errorf("last runs = %+v", d.LastRuns)
	}
	page := string(d.HTML())
	if !strings.Contains(page, `href="status/authorizers/wx00000003"`) || !strings.Contains(page, "Tea House") {
		t.Error("the main page does not link the authorizer by name")
	}
	const ownRobotKey = "status-own-robot-key-9d3a"
	if err := robots.Put(context.Background(), st, source(st, now, nil).Prefix, "wx00000007",
		[]string{"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + ownRobotKey}); err != nil {
		t.Fatal(err)
	}
	a, err := status.LoadAuthorizer(context.Background(), source(st, now, nil), "wx00000007")
	if err != nil {
		t.Fatal(err)
	}
	if page := string(a.HTML()); len(a.Robots) != 1 || a.Robots[0] != "wecom qyapi.weixin.qq.com" ||
		!strings.Contains(page, "qyapi.weixin.qq.com") || strings.Contains(page, ownRobotKey) {
		t.Errorf("authorizer's robots = %v; want its own robot's kind and host on the page, never its key", a.Robots)
	}
	if len(a.Open) != 1 || a.Open[0].Env != "prod-wx00000007" {
		t.Errorf("authorizer's open = %+v, want its HALTED environment", a.Open)
	}
	if len(a.Envs) != 2 || a.Envs[0].Env != "prod-wx00000007" || !a.Envs[0].Open || a.Envs[1].Env != "prod-x" || a.Envs[1].Open {
		t.Errorf("authorizer's envs = %+v, want its open one and prod-x from its changes", a.Envs)
	}
	if len(a.Changes) == 0 || a.Changes[0].Authorizer != "wx00000007" {
		t.Errorf("authorizer's changes = %d", len(a.Changes))
	}
	if p := string(a.HTML()); !strings.Contains(p, `href="../../status"`) {
		t.Error("the authorizer page has no way back")
	}
}

func TestStoredNames(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	for k, v := range map[string]string{
		prefix + "names:wxA": `{"name":"Tea House","principal":"Tea House Ltd","known":true}`,
		prefix + "names:wxB": `{"failed":true}`,
		prefix + "names:wxC": `not json`,
	} {
		if err := st.Set(ctx, k, store.Value{Data: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	got := status.StoredNames(st, prefix)(ctx, []string{"wxA", "wxB", "wxC", "wxD"})
	if len(got) != 1 || got["wxA"] != "Tea House" {
		t.Errorf("StoredNames = %v, want only wxA's", got)
	}
}

func TestLongNameCut(t *testing.T) {
	now := testNow()
	st := store.NewMemory()
	st.Now = func() time.Time { return now }
	seed(t, st, now, 10, time.Hour, "x")
	long := strings.Repeat("茶", 300)
	d, err := status.Load(context.Background(), source(st, now, map[string]string{"wx00000003": long}))
	if err != nil {
		t.Fatal(err)
	}
	page := string(d.HTML())
	if strings.Contains(page, strings.Repeat("茶", 65)) || !strings.Contains(page, strings.Repeat("茶", 64)+"…") {
		t.Error("a 300-rune name is not cut to 64 runes and an ellipsis")
	}
}
