package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
	"github.com/wxcloudenv/wxcloudenv/test/baseline"
	"github.com/wxcloudenv/wxcloudenv/test/runtimeapi"
)

// The fleet's conditions (BENCHMARKS.md#the-fleet): every WeChat call
// answers after fleetLatency, and 32 authorizers are checked at once.
const (
	fleetLatency     = 20 * time.Millisecond
	fleetConcurrency = 32
)

// fleetComponent is the platform the baseline mints its component token for.
var fleetComponent = baseline.Component{
	AppID: wechattest.ComponentAppID, AppSecret: wechattest.ComponentAppSecret, VerifyTicket: wechattest.VerifyTicket,
}

// scheduleEvent is the EventBridge scheduled event of events/: a scheduled
// run is the one a fleet is checked by, and the one answered with a
// compact event when the full one would pass the 6 MB cap.
func scheduleEvent(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile("../../events/aws-schedule.json")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// newFleetServer returns a server whose platform has exactly the n
// generated authorizers (the default authorizer is removed), each with
// two environments, and whose four fleet endpoints answer after latency.
func newFleetServer(tb testing.TB, n int, latency time.Duration) *wechattest.Server {
	tb.Helper()
	srv := wechattest.NewServer()
	tb.Cleanup(srv.Close)
	srv.Unauthorize(wechattest.AuthorizerAppID)
	srv.SetFleet(n)
	for _, p := range []string{wechat.ComponentTokenPath, wechat.GetAuthorizerListPath, wechat.AuthorizerTokenPath, wechat.GetEnvInfoPath} {
		srv.SetLatency(p, latency)
	}
	return srv
}

// fleetVars configures a fleet run of every authorizer, getenvinfo only
// (the baseline does nothing else), tokens minted from the component
// credentials.
func fleetVars(srv *wechattest.Server) map[string]string {
	return map[string]string{
		"WECHAT_API_BASE_URL":            srv.URL,
		"WECHAT_COMPONENT_APPID":         wechattest.ComponentAppID,
		"WECHAT_COMPONENT_APPSECRET":     wechattest.ComponentAppSecret,
		"WECHAT_COMPONENT_VERIFY_TICKET": wechattest.VerifyTicket,
		"WXCLOUDENV_AUTHORIZERS":         "all",
		"WXCLOUDENV_OPERATIONS":          wechat.OpGetEnvInfo,
		"WXCLOUDENV_CONCURRENCY":         strconv.Itoa(fleetConcurrency),
	}
}

// fleetContext is a Lambda context with a deadline far beyond a run.
func fleetContext() (context.Context, context.CancelFunc) {
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "bench-fleet"})
	return context.WithTimeout(ctx, 5*time.Minute)
}

// checkFleetEvent fails unless out is the event of a fleet run in which
// all n authorizers succeeded.
func checkFleetEvent(tb testing.TB, out []byte, err error, n int) {
	tb.Helper()
	want := []byte(`"total":` + strconv.Itoa(n) + `,"failed":0,`)
	if err != nil || !bytes.Contains(out[:min(len(out), 400)], want) || !bytes.Contains(out[:min(len(out), 300)], []byte(`"ok":true`)) {
		tb.Fatalf("core: %v %.400s", err, out)
	}
}

// runFleetPair runs the baseline and the core over a fleet of n authorizers
// as sub-benchmarks. Each iteration starts from nothing, as the baseline
// does: a new client, and for the core a new Handler (its own memory
// store, so every token is minted again) built outside the timer.
func runFleetPair(b *testing.B, n int) {
	srv := newFleetServer(b, n, fleetLatency)
	b.Run("baseline", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			hc := baseline.NewFleetClient(fleetConcurrency)
			ctx, cancel := fleetContext()
			out, err := baseline.FetchFleet(ctx, hc, srv.URL, fleetComponent, fleetConcurrency)
			cancel()
			hc.CloseIdleConnections()
			if err != nil || len(out) < n*100 {
				b.Fatalf("baseline: %v %.300s", err, out)
			}
		}
	})
	b.Run("wxcloudenv", func(b *testing.B) {
		ev := scheduleEvent(b)
		env := fleetVars(srv)
		var size int
		compact := false
		mints := srv.Mints("authorizer")
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			h := newCore(b, env)
			b.StartTimer()
			ctx, cancel := fleetContext()
			out, err := h.Invoke(ctx, ev)
			cancel()
			b.StopTimer()
			h.Runtimes.HTTPClient.CloseIdleConnections()
			checkFleetEvent(b, out, err, n)
			size = len(out)
			compact = bytes.Contains(out[:min(len(out), 300)], []byte(`"compact":true`))
			b.StartTimer()
		}
		if got := srv.Mints("authorizer") - mints; got != n*b.N {
			b.Fatalf("%d authorizer mints in %d runs of %d authorizers: the core did not do the baseline's work", got, b.N, n)
		}
		b.ReportMetric(float64(size), "event-B")
		c := 0.0
		if compact {
			c = 1
		}
		b.ReportMetric(c, "compact")
	})
}

// BenchmarkFleet10000 checks 10,000 authorizers, 20 ms on every WeChat
// call, 32 at once: the baseline against a scheduled run of the core.
func BenchmarkFleet10000(b *testing.B) { runFleetPair(b, 10000) }

// BenchmarkFleet1000 is BenchmarkFleet10000 with 1,000 authorizers: the
// two give how cost grows with the fleet.
func BenchmarkFleet1000(b *testing.B) { runFleetPair(b, 1000) }

// BenchmarkFleetBinary10000 execs the built bootstrap and sends it two
// scheduled events over a fleet of 10,000 authorizers, as two runs of one
// warm Lambda instance. It reports the process's peak resident set over
// both (what Lambda bills as Max Memory Used) and how many tokens the
// second run minted. The fake server answers at once: memory is set by
// what a run keeps, not by how long it waits, and an upstream that does
// not slow the function down is the harder case for the garbage
// collector.
func BenchmarkFleetBinary10000(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("the built function is a linux binary")
	}
	const n = 10000
	srv := newFleetServer(b, n, 0)
	bin := build(b, "wxcloudenv", runtime.GOARCH)
	ev := scheduleEvent(b)
	var rss int64
	var authMints, compMints int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		api := runtimeapi.New()
		env := api.Env(fleetVars(srv))
		env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = "128"
		b.StartTimer()
		p := startProcess(b, bin, env)
		var auth, comp int
		for run := range 2 {
			auth, comp = srv.Mints("authorizer"), srv.Mints("component")
			a, _, err := api.Invoke(ev, 2*time.Minute)
			if err != nil || a.IsError {
				p.stop()
				api.Close()
				b.Fatalf("run %d: %v %.300s\n%.2000s", run+1, err, a.Body, p.out.String())
			}
			checkFleetEvent(b, a.Body, nil, n)
		}
		b.StopTimer()
		authMints += srv.Mints("authorizer") - auth
		compMints += srv.Mints("component") - comp
		r, ok := p.peakRSS()
		if !ok {
			b.Fatal("no VmHWM in /proc")
		}
		rss += r
		p.stop()
		api.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(rss)/float64(b.N), "peak-RSS-B")
	b.ReportMetric(float64(authMints), "second-run-authorizer-mints")
	b.ReportMetric(float64(compMints), "second-run-component-mints")
}

// TestFleetBaselineDoesTheSameJob checks that the fleet baseline fetches, for
// every authorizer, exactly the answer the core embeds in its event.
func TestFleetBaselineDoesTheSameJob(t *testing.T) {
	const n = 60
	srv := newFleetServer(t, n, 0)
	srv.SetAuthorizer(wechattest.FleetAppID(7), wechattest.Authorizer{Status: "HALTED", Envs: 3})
	ctx, cancel := fleetContext()
	defer cancel()
	hc := baseline.NewFleetClient(fleetConcurrency)
	defer hc.CloseIdleConnections()
	got, err := baseline.FetchFleet(ctx, hc, srv.URL, fleetComponent, fleetConcurrency)
	if err != nil {
		t.Fatal(err)
	}
	if m := srv.Mints("authorizer"); m != n {
		t.Fatalf("the baseline minted %d authorizer tokens for %d authorizers", m, n)
	}
	var fromBaseline map[string]json.RawMessage
	if err := json.Unmarshal(got, &fromBaseline); err != nil {
		t.Fatalf("baseline answer is not JSON: %v", err)
	}
	out, err := newCore(t, fleetVars(srv)).Invoke(ctx, scheduleEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Results map[string]struct {
			Total       int `json:"total"`
			Authorizers map[string]struct {
				Response json.RawMessage `json:"response"`
			} `json:"authorizers"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &ev); err != nil {
		t.Fatalf("event is not JSON: %v", err)
	}
	fl := ev.Results[wechat.OpGetEnvInfo]
	if len(ev.Results) != 1 || fl.Total != n || len(fl.Authorizers) != n || len(fromBaseline) != n {
		t.Fatalf("core: %d results, %d of %d authorizers; baseline: %d", len(ev.Results), len(fl.Authorizers), n, len(fromBaseline))
	}
	for id, a := range fl.Authorizers {
		if string(fromBaseline[id]) != string(a.Response) || len(a.Response) == 0 {
			t.Errorf("%s: the baseline fetched %d bytes, the core embedded %d different ones", id, len(fromBaseline[id]), len(a.Response))
		}
	}
}

// TestFleetSecondRunMintsNothing checks that a second fleet run within the
// tokens' life mints no token: each authorizer's token is minted once.
func TestFleetSecondRunMintsNothing(t *testing.T) {
	const n = 600 // more than one page of the authorizer list
	srv := newFleetServer(t, n, 0)
	h := newCore(t, fleetVars(srv))
	ev := scheduleEvent(t)
	for run := 1; run <= 2; run++ {
		ctx, cancel := fleetContext()
		out, err := h.Invoke(ctx, ev)
		cancel()
		checkFleetEvent(t, out, err, n)
		if a, c := srv.Mints("authorizer"), srv.Mints("component"); a != n || c != 1 {
			t.Fatalf("after run %d: %d authorizer and %d component mints, want %d and 1", run, a, c, n)
		}
	}
	for _, id := range []string{wechattest.FleetAppID(0), wechattest.FleetAppID(n - 1)} {
		if m := srv.AuthorizerMints(id); m != 1 {
			t.Errorf("%s minted %d times", id, m)
		}
	}
}
