package bench

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/internal/config/configtest"
	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
	"github.com/wxcloudenv/wxcloudenv/test/baseline"
	"github.com/wxcloudenv/wxcloudenv/test/runtimeapi"
)

// The paired benchmarks run the baseline and wxcloudenv alternately inside
// one loop (baseline first on even iterations, wxcloudenv first on odd
// ones), so both see the same moment of a shared, noisy machine. Each
// reports both sides' medians and their ratio, computed in that one run
// (the median of many samples, so that another process's burst on the
// shared cores moves neither side much), and the ratio of the means
// beside it; tools/benchreport prints the median ratio over -count runs
// with its spread. Besides wall time they report what load does not
// change: the processes' minor page faults, and their CPU time
// (user+system), which load moves far less than wall time.

// pairedSums collects one metric's samples on both sides.
type pairedSums struct{ base, subject []float64 }

func (s *pairedSums) add(isBase bool, v float64) {
	if isBase {
		s.base = append(s.base, v)
	} else {
		s.subject = append(s.subject, v)
	}
}

func mid(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func mean(v []float64) float64 {
	t := 0.0
	for _, x := range v {
		t += x
	}
	return t / float64(max(len(v), 1))
}

// report writes baseline-<unit> and wxcloudenv-<unit> (medians),
// ratio-<unit> (of the medians) and ratio-mean-<unit>.
func (s pairedSums) report(b *testing.B, unit string) {
	mb, ms := mid(s.base), mid(s.subject)
	b.ReportMetric(mb, "baseline-"+unit)
	b.ReportMetric(ms, "wxcloudenv-"+unit)
	if mb > 0 {
		b.ReportMetric(ms/mb, "ratio-"+unit)
	}
	if m := mean(s.base); m > 0 {
		b.ReportMetric(mean(s.subject)/m, "ratio-mean-"+unit)
	}
}

// BenchmarkPairedColdStart execs the built baseline and bootstrap alternately
// against a fresh Runtime API emulator each and times exec to first
// answer; it also reports each process's minor page faults, CPU time and
// peak RSS.
func BenchmarkPairedColdStart(b *testing.B) {
	srv := wechattest.NewServer()
	defer srv.Close()
	bins := map[bool]string{true: build(b, "baseline", runtimeArch()), false: build(b, "wxcloudenv", runtimeArch())}
	var wall, faults, cpu, rss pairedSums
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, isBase := range []bool{i%2 == 0, i%2 != 0} {
			b.StopTimer()
			api := runtimeapi.New()
			env := api.Env(configtest.StaticVars(srv.URL))
			env["WECHAT_MAX_RESPONSE_BYTES"] = strconv.Itoa(32 << 20)
			b.StartTimer()
			start := time.Now()
			p := startProcess(b, bins[isBase], env)
			a, _, err := api.Invoke(directAll, 30*time.Second)
			took := time.Since(start)
			b.StopTimer()
			if err != nil || a.IsError || !bytes.Contains(a.Body, []byte(`"errcode":0`)) {
				p.stop()
				api.Close()
				b.Fatalf("%s: %v %.300s\n%s", bins[isBase], err, a.Body, p.out.String())
			}
			r, _ := p.peakRSS()
			p.stop()
			api.Close()
			ru, _ := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
			wall.add(isBase, float64(took.Nanoseconds()))
			rss.add(isBase, float64(r))
			if ru != nil {
				faults.add(isBase, float64(ru.Minflt+ru.Majflt))
				cpu.add(isBase, float64(time.Duration(ru.Utime.Nano()+ru.Stime.Nano())))
			}
			b.StartTimer()
		}
	}
	wall.report(b, "ns")
	cpu.report(b, "cpu-ns")
	faults.report(b, "faults")
	rss.report(b, "peak-RSS-B")
}

// BenchmarkPairedWarm runs warm invocations of the baseline and the core
// alternately (BenchmarkWarm, interleaved), and reports the
// bytes and objects each allocates per invocation.
func BenchmarkPairedWarm(b *testing.B) {
	srv := wechattest.NewServer()
	defer srv.Close()
	hc := newBaselineClient(b)
	h := newCore(b, configtest.StaticVars(srv.URL))
	run := func(isBase bool) {
		ctx, cancel := lambdaContext()
		defer cancel()
		if isBase {
			out, err := baseline.Fetch(ctx, hc, srv.URL, wechattest.AccessToken, wechattest.ComponentAccessToken)
			if err != nil || len(out) == 0 {
				b.Fatalf("baseline: %v", err)
			}
			return
		}
		out, err := h.Invoke(ctx, directAll)
		if err != nil || !bytes.Contains(out[:min(len(out), 200)], []byte(`"ok":true`)) {
			b.Fatalf("core: %v %.300s", err, out)
		}
	}
	// Warm both up: connections, tokens, the first run's state.
	for range 3 {
		run(true)
		run(false)
	}
	pairedInProcess(b, run, 50)
}

// pairedInProcess times run(true) (the baseline) and run(false) (the
// core) alternately, b.N times each, and reports both sides' wall time,
// then the objects and bytes each allocates per run over allocRuns runs.
func pairedInProcess(b *testing.B, run func(isBase bool), allocRuns int) {
	var wall pairedSums
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, isBase := range []bool{i%2 == 0, i%2 != 0} {
			start := time.Now()
			run(isBase)
			wall.add(isBase, float64(time.Since(start).Nanoseconds()))
		}
	}
	b.StopTimer()
	wall.report(b, "ns")
	var allocs, heap pairedSums
	for _, isBase := range []bool{true, false} {
		n, by := allocsPerRun(allocRuns, func() { run(isBase) })
		allocs.add(isBase, n)
		heap.add(isBase, by)
	}
	allocs.report(b, "allocs")
	heap.report(b, "B")
}

// allocsPerRun is the mean objects and bytes allocated by one call of f
// (the in-process server's share included, as in -benchmem).
func allocsPerRun(n int, f func()) (objects, bytes float64) {
	f()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(n), float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
}

func runtimeArch() string { return runtime.GOARCH }

// BenchmarkPairedFirstInvoke is the in-process part of a cold start: a new
// baseline client and its first fetch against a new core (invoke.New) and its
// first invocation, alternately, with the allocations of each.
func BenchmarkPairedFirstInvoke(b *testing.B) {
	srv := wechattest.NewServer()
	defer srv.Close()
	env := configtest.StaticVars(srv.URL)
	run := func(isBase bool) {
		ctx, cancel := lambdaContext()
		defer cancel()
		if isBase {
			hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
			out, err := baseline.Fetch(ctx, hc, srv.URL, wechattest.AccessToken, wechattest.ComponentAccessToken)
			hc.CloseIdleConnections()
			if err != nil || len(out) == 0 {
				b.Fatalf("baseline: %v", err)
			}
			return
		}
		h := invoke.NewWithLog(invoke.PlatformAWSLambda, io.Discard)
		h.KeepWorkers = invoke.PlatformWorkers
		h.Lookup = config.Map(env)
		out, err := h.Invoke(ctx, directAll)
		if h.Runtimes.HTTPClient != nil {
			h.Runtimes.HTTPClient.CloseIdleConnections()
		}
		if err != nil || !bytes.Contains(out[:min(len(out), 200)], []byte(`"ok":true`)) {
			b.Fatalf("core: %v %.300s", err, out)
		}
	}
	pairedInProcess(b, run, 20)
}

// procCPU is a live process's user+system CPU time from /proc (clock
// ticks of 10 ms: meaningful over many invocations only).
func procCPU(p *process) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}

// BenchmarkPairedWarmBinary is the warm invocation as a user sees it: the
// built baseline and bootstrap each started once against their own Runtime
// API emulator, then invoked alternately, timing each event from the
// emulator's side (queued to answer posted). It also reports the CPU time
// each process spends per invocation.
func BenchmarkPairedWarmBinary(b *testing.B) {
	srv := wechattest.NewServer()
	defer srv.Close()
	type fn struct {
		api *runtimeapi.Emulator
		p   *process
	}
	fns := map[bool]*fn{}
	for _, isBase := range []bool{true, false} {
		name := "wxcloudenv"
		if isBase {
			name = "baseline"
		}
		api := runtimeapi.New()
		defer api.Close()
		p := startProcess(b, build(b, name, runtimeArch()), api.Env(configtest.StaticVars(srv.URL)))
		defer p.stop()
		fns[isBase] = &fn{api, p}
	}
	invoke := func(isBase bool) time.Duration {
		f := fns[isBase]
		start := time.Now()
		a, _, err := f.api.Invoke(directAll, 30*time.Second)
		took := time.Since(start)
		if err != nil || a.IsError || !bytes.Contains(a.Body, []byte(`"errcode":0`)) {
			b.Fatalf("baseline %v: %v %.300s\n%s", isBase, err, a.Body, f.p.out.String())
		}
		return took
	}
	for range 20 { // connections, tokens, the first run's state
		invoke(true)
		invoke(false)
	}
	cpu0 := map[bool]time.Duration{true: procCPU(fns[true].p), false: procCPU(fns[false].p)}
	var wall pairedSums
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, isBase := range []bool{i%2 == 0, i%2 != 0} {
			wall.add(isBase, float64(invoke(isBase).Nanoseconds()))
		}
	}
	b.StopTimer()
	wall.report(b, "ns")
	var cpu pairedSums
	for _, isBase := range []bool{true, false} {
		cpu.add(isBase, float64(procCPU(fns[isBase].p)-cpu0[isBase])/float64(b.N))
	}
	cpu.report(b, "cpu-ns")
}

// fleetRSS execs bin against srv's fleet, sends it the scheduled event
// twice (two runs of one warm instance) and returns its peak RSS. The
// baseline answers its own shape; the core must answer a complete event.
func fleetRSS(b *testing.B, bin string, srv *wechattest.Server, n int, isBase bool) int64 {
	api := runtimeapi.New()
	defer api.Close()
	env := api.Env(fleetVars(srv))
	env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = "128"
	p := startProcess(b, bin, env)
	defer p.stop()
	ev := scheduleEvent(b)
	for run := range 2 {
		a, _, err := api.Invoke(ev, 2*time.Minute)
		if err != nil || a.IsError {
			b.Fatalf("%s, run %d: %v %.300s\n%.2000s", bin, run+1, err, a.Body, p.out.String())
		}
		if !isBase {
			checkFleetEvent(b, a.Body, nil, n)
		} else if !bytes.HasPrefix(a.Body, []byte(`{"`)) {
			b.Fatalf("baseline: %.300s", a.Body)
		}
	}
	r, ok := p.peakRSS()
	if !ok {
		b.Fatal("no VmHWM in /proc")
	}
	return r
}

// BenchmarkPairedFleetRSS runs the built fleet baseline and bootstrap, two
// scheduled runs each, over fleets of 1,000 and 10,000 authorizers (the
// server answering at once), and reports each side's peak RSS at both
// sizes and its growth from 1,000 to 10,000.
func BenchmarkPairedFleetRSS(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("the built functions are linux binaries")
	}
	bins := map[bool]string{true: build(b, "baseline-fleet", runtimeArch()), false: build(b, "wxcloudenv", runtimeArch())}
	sizes := []int{1000, 10000}
	srvs := map[int]*wechattest.Server{}
	for _, n := range sizes {
		srvs[n] = newFleetServer(b, n, 0)
	}
	var small, large pairedSums
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, isBase := range []bool{i%2 == 0, i%2 != 0} {
			small.add(isBase, float64(fleetRSS(b, bins[isBase], srvs[1000], 1000, isBase)))
			large.add(isBase, float64(fleetRSS(b, bins[isBase], srvs[10000], 10000, isBase)))
		}
	}
	b.StopTimer()
	small.report(b, "1k-peak-RSS-B")
	large.report(b, "10k-peak-RSS-B")
	b.ReportMetric(mid(large.base)/mid(small.base), "baseline-growth")
	b.ReportMetric(mid(large.subject)/mid(small.subject), "wxcloudenv-growth")
}
