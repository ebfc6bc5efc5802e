package warnings_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/tokens"
	"github.com/wxcloudenv/wxcloudenv/internal/warnings"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// tickets is a TicketSource with a settable CreateTime.
type tickets struct {
	created time.Time
	ok      bool
	err     error
}

func (t tickets) TicketCreated(context.Context, string, time.Duration) (time.Time, bool, error) {
	return t.created, t.ok, t.err
}

func TestVerifyTicket(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		src     tickets
		alert   bool
		checked bool
		want    []string // in the message
	}{
		{"fresh", tickets{created: now.Add(-9 * time.Minute), ok: true}, false, true, nil},
		{"30 minutes is not stale yet", tickets{created: now.Add(-30 * time.Minute), ok: true}, false, true, nil},
		{"31 minutes", tickets{created: now.Add(-31 * time.Minute), ok: true}, true, true,
			[]string{"for 31m", "minted for 11h29m", "until 2026-12-06T23:29:00Z"}},
		{"past the 12 hours", tickets{created: now.Add(-13 * time.Hour), ok: true}, true, true,
			[]string{"for 13h00m", "no longer be minted since 2026-12-06T11:00:00Z", "61005"}},
		{"none kept", tickets{}, false, true, nil},
		{"store down", tickets{err: store.ErrUnavailable}, false, false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &warnings.Checker{ComponentAppID: "wxplatform", Tickets: tc.src, Now: func() time.Time { return now }}
			r := c.Check(t.Context())
			if got := len(r.Alerts) == 1; got != tc.alert || len(r.Alerts) > 1 {
				t.Fatalf("alerts %+v, want alert %v", r.Alerts, tc.alert)
			}
			if got := len(r.Checked) == 1 && r.Checked[0] == warnings.OperationComponent; got != tc.checked {
				t.Errorf("checked %v, want %v", r.Checked, tc.checked)
			}
			if tc.alert {
				a := r.Alerts[0]
				if a.Operation != warnings.OperationComponent || a.Resource != warnings.ResourceVerifyTicket || a.Status != warnings.StatusStale {
					t.Errorf("alert %+v", a)
				}
				for _, w := range tc.want {
					if !strings.Contains(a.Message, w) {
						t.Errorf("message %q lacks %q", a.Message, w)
					}
				}
			}
			if r.HasTicketAge != tc.src.ok || r.HasTicketAge && r.TicketAge != now.Sub(tc.src.created) {
				t.Errorf("ticket age %v (%v)", r.TicketAge, r.HasTicketAge)
			}
		})
	}
}

// TestQuotaOncePerHour: ten instances checking at once read WeChat's
// quotas once; the reading serves every instance for an hour; a path at
// 5% is one LOW alert; an hour later the quotas are read again.
func TestQuotaOncePerHour(t *testing.T) {
	t.Parallel()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	srv.SetQuota(wechat.GetAuthorizerListPath, 2000, 1900)
	client, err := wechat.NewClient(wechat.WithBaseURLs(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	st := store.NewMemory()
	var mu sync.Mutex
	now := testNow()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	paths := []string{wechat.AuthorizerTokenPath, wechat.GetAuthorizerListPath}
	checkers := make([]*warnings.Checker, 10)
	for i := range checkers {
		checkers[i] = &warnings.Checker{ComponentAppID: wechattest.ComponentAppID, Store: st, Prefix: "wxcloudenv:",
			Client: client, Component: wechat.StaticTokenSource(wechattest.ComponentAccessToken), QuotaPaths: paths,
			Now: clock, Instance: string(rune('a' + i))}
	}
	run := func() []warnings.Report {
		out := make([]warnings.Report, len(checkers))
		var wg sync.WaitGroup
		for i, c := range checkers {
			wg.Go(func() { out[i] = c.Check(t.Context()) })
		}
		wg.Wait()
		return out
	}
	reports := run()
	if n := srv.Calls(wechat.QuotaPath); n != len(paths) {
		t.Fatalf("ten instances read the quotas with %d calls, want %d (once)", n, len(paths))
	}
	sawAlert := 0
	for _, r := range reports {
		if len(r.Alerts) > 0 {
			sawAlert++
			a := r.Alerts[0]
			if len(r.Alerts) != 1 || a.Resource != "quota:"+wechat.GetAuthorizerListPath || a.Status != warnings.StatusLow ||
				!strings.Contains(a.Message, "5.0%") || !strings.Contains(a.Message, "100 of 2000") {
				t.Errorf("alerts %+v", r.Alerts)
			}
			if !r.HasQuota || r.QuotaPercent != 5 {
				t.Errorf("lowest quota %v (%v), want 5", r.QuotaPercent, r.HasQuota)
			}
		}
	}
	if sawAlert == 0 {
		t.Fatal("no instance raised the quota alert")
	}
	// Later in the hour, every instance sees the reading; no new read.
	mu.Lock()
	now = now.Add(59 * time.Minute)
	mu.Unlock()
	for _, r := range run() {
		if len(r.Alerts) != 1 || len(r.Checked) != 1 || r.Checked[0] != warnings.OperationQuota {
			t.Errorf("within the hour: alerts %+v checked %v", r.Alerts, r.Checked)
		}
	}
	if n := srv.Calls(wechat.QuotaPath); n != len(paths) {
		t.Errorf("read again within the hour: %d calls", n)
	}
	// An hour on, read again once; the quota recovered: no alert.
	srv.SetQuota(wechat.GetAuthorizerListPath, 2000, 10)
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	run()
	if n := srv.Calls(wechat.QuotaPath); n != 2*len(paths) {
		t.Errorf("after the hour: %d calls, want %d", n, 2*len(paths))
	}
	for _, r := range run() {
		if len(r.Alerts) != 0 {
			t.Errorf("after recovery: %+v", r.Alerts)
		}
	}
}

// TestQuotaUnreadable: when WeChat refuses the quota reads, nothing is
// checked (open quota alerts stay as they are) and the problem is said,
// without the token.
func TestQuotaUnreadable(t *testing.T) {
	t.Parallel()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	client, _ := wechat.NewClient(wechat.WithBaseURLs(srv.URL))
	c := &warnings.Checker{ComponentAppID: wechattest.ComponentAppID, Store: store.NewMemory(), Client: client,
		Component: wechat.StaticTokenSource("quota-secret-token"), QuotaPaths: []string{wechat.AuthorizerTokenPath}}
	r := c.Check(t.Context())
	if len(r.Checked) != 0 || len(r.Alerts) != 0 || len(r.Problems) != 1 || r.HasQuota {
		t.Fatalf("report %+v", r)
	}
	if strings.Contains(r.Problems[0], "quota-secret-token") {
		t.Errorf("the problem shows the token: %s", r.Problems[0])
	}
}

// getCounter counts the store's reads of the verify ticket and of the
// quota reading.
type getCounter struct {
	store.Store
	mu                 sync.Mutex
	ticketGets, quotas int
}

func (g *getCounter) Get(ctx context.Context, key string) (store.Value, error) {
	g.mu.Lock()
	switch {
	case strings.Contains(key, "ticket:"):
		g.ticketGets++
	case strings.Contains(key, "quota:"):
		g.quotas++
	}
	g.mu.Unlock()
	return g.Store.Get(ctx, key)
}

// TestWarmInstanceReadsTheStoreRarely: an instance run every five
// minutes for two hours, while another instance receives WeChat's pushes
// every 10 minutes, reads the verify ticket's age about every 30 minutes
// (never raising STALE) and the shared quota reading once an hour, not
// every run.
func TestWarmInstanceReadsTheStoreRarely(t *testing.T) {
	t.Parallel()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	client, err := wechat.NewClient(wechat.WithBaseURLs(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := testNow().Truncate(time.Hour).Add(3 * time.Minute)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	st := &getCounter{Store: store.NewMemory()}
	newKeeper := func(s store.Store) *tokens.Keeper {
		k, err := tokens.New(tokens.Options{Store: s, Client: client, Prefix: "wxcloudenv:", Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	// The pushes' instance shares the store; only the scheduled one's
	// reads are counted.
	pushes, scheduled := newKeeper(st.Store), newKeeper(st)
	c := &warnings.Checker{ComponentAppID: wechattest.ComponentAppID, Tickets: scheduled, Store: st, Prefix: "wxcloudenv:",
		Client: client, Component: wechat.StaticTokenSource(wechattest.ComponentAccessToken),
		QuotaPaths: []string{wechat.AuthorizerTokenPath}, Now: clock, Instance: "a"}
	const runs = 24
	for i := range runs {
		if t0 := clock(); t0.Minute()%10 < 5 {
			// This run's ten minutes' push, received by the other instance.
			if _, err := pushes.SaveTicket(t.Context(), wechattest.ComponentAppID, fmt.Sprintf("ticket-%d", i), t0.Truncate(10*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		r := c.Check(t.Context())
		if len(r.Alerts) != 0 || !r.HasTicketAge || r.TicketAge > warnings.TicketStaleAfter || !r.HasQuota {
			t.Fatalf("run %d: alerts %+v, ticket age %v (%v), quota %v", i, r.Alerts, r.TicketAge, r.HasTicketAge, r.HasQuota)
		}
		mu.Lock()
		now = now.Add(5 * time.Minute)
		mu.Unlock()
	}
	if st.ticketGets > runs/5 || st.ticketGets < 2 {
		t.Errorf("the ticket's age was read %d times in %d runs, want about one run in six", st.ticketGets, runs)
	}
	if st.quotas > 3 || srv.Calls(wechat.QuotaPath) != 2 {
		t.Errorf("the quota reading was read %d times and WeChat's quotas %d times in two hours, want about once an hour", st.quotas, srv.Calls(wechat.QuotaPath))
	}
}

// TestQuotaReadingWithTheRunsBatch: through a run's store.Buffered the
// shared reading is read from its read-ahead and a new one waits for the
// run's batch, while the hour's lease is taken in the store at once: an
// instance checking before the batch lands reads no quotas, and one
// checking after it sees the reading.
func TestQuotaReadingWithTheRunsBatch(t *testing.T) {
	t.Parallel()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	srv.SetQuota(wechat.AuthorizerTokenPath, 2000, 1950)
	client, err := wechat.NewClient(wechat.WithBaseURLs(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	st := &getCounter{Store: store.NewMemory()}
	now := testNow()
	checker := func(id string) *warnings.Checker {
		return &warnings.Checker{ComponentAppID: wechattest.ComponentAppID, Store: st, Prefix: "wxcloudenv:",
			Client: client, Component: wechat.StaticTokenSource(wechattest.ComponentAccessToken),
			QuotaPaths: []string{wechat.AuthorizerTokenPath}, Now: func() time.Time { return now }, Instance: id}
	}
	a, b := checker("a"), checker("b")
	key := warnings.QuotaKey("wxcloudenv:", wechattest.ComponentAppID)
	if r := a.Reads(); len(r) != 1 || r[0] != key {
		t.Fatalf("Reads = %q, want the quota reading's key", r)
	}
	run := store.NewBuffered(st)
	run.Expect(a.Reads()...)
	run.Supply([]string{key}, nil) // read ahead: no reading yet
	r := a.CheckWith(t.Context(), run)
	if len(r.Alerts) != 1 || r.Alerts[0].Status != warnings.StatusLow || st.quotas != 0 {
		t.Fatalf("first check: alerts %+v, %d store reads of the reading; want LOW from the read-ahead", r.Alerts, st.quotas)
	}
	if run.Pending() != 1 {
		t.Fatalf("%d writes wait for the batch, want the reading", run.Pending())
	}
	if _, err := st.Store.Get(t.Context(), warnings.QuotaLeaseKey("wxcloudenv:", wechattest.ComponentAppID)); err != nil {
		t.Fatalf("the lease is not in the store: %v", err)
	}
	// Before the batch: another instance holds back (the lease) and has
	// no reading to judge by.
	if r := b.Check(t.Context()); len(r.Alerts) != 0 || srv.Calls(wechat.QuotaPath) != 1 {
		t.Fatalf("another instance before the batch: alerts %+v, %d quota reads", r.Alerts, srv.Calls(wechat.QuotaPath))
	}
	if err := run.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := checker("c").Check(t.Context()); len(r.Alerts) != 1 || srv.Calls(wechat.QuotaPath) != 1 {
		t.Fatalf("after the batch: alerts %+v, %d quota reads", r.Alerts, srv.Calls(wechat.QuotaPath))
	}
	if a.Reads() != nil {
		t.Errorf("a holds a reading of this hour, yet Reads = %q", a.Reads())
	}
}
