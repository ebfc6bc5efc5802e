package bench

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/internal/floor"
	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/internal/lambdatest"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// The paired benchmarks run the floor and wxcloudenv alternately inside
// one loop (floor first on even iterations, wxcloudenv first on odd
// ones), so both see the same moment of a shared, noisy machine. Each
// reports both sides' means and their ratio, computed in that one run;
// internal/benchreport prints the median ratio over -count runs with its
// spread. Besides wall time they report what load does not change: the
// processes' minor page faults, and their CPU time (user+system), which
// load moves far less than wall time.

// pairedSums accumulates one metric of both sides.
type pairedSums struct{ floor, subject float64 }

func (s *pairedSums) add(isFloor bool, v float64) {
	if isFloor {
		s.floor += v
	} else {
		s.subject += v
	}
}

// report writes floor-<unit>, wxcloudenv-<unit> (means per iteration) and
// ratio-<unit>.
func (s pairedSums) report(b *testing.B, unit string) {
	n := float64(b.N)
	b.ReportMetric(s.floor/n, "floor-"+unit)
	b.ReportMetric(s.subject/n, "wxcloudenv-"+unit)
	if s.floor > 0 {
		b.ReportMetric(s.subject/s.floor, "ratio-"+unit)
	}
}

// BenchmarkPairedColdStart execs the built floor and bootstrap alternately
// against a fresh Runtime API emulator each and times exec to first
// answer; it also reports each process's minor page faults, CPU time and
// peak RSS.
func BenchmarkPairedColdStart(b *testing.B) {
	srv := wechattest.NewServer()
	defer srv.Close()
	bins := map[bool]string{true: build(b, "floor", runtimeArch()), false: build(b, "wxcloudenv", runtimeArch())}
	var wall, faults, cpu, rss pairedSums
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, isFloor := range []bool{i%2 == 0, i%2 != 0} {
			b.StopTimer()
			api := lambdatest.NewRuntimeAPI()
			env := api.Env(srv.StaticVars())
			env["WECHAT_MAX_RESPONSE_BYTES"] = strconv.Itoa(32 << 20)
			b.StartTimer()
			start := time.Now()
			p := startProcess(b, bins[isFloor], env)
			a, _, err := api.Invoke(directAll, 30*time.Second)
			took := time.Since(start)
			b.StopTimer()
			if err != nil || a.IsError || !bytes.Contains(a.Body, []byte(`"errcode":0`)) {
				p.stop()
				api.Close()
				b.Fatalf("%s: %v %.300s\n%s", bins[isFloor], err, a.Body, p.out.String())
			}
			r, _ := p.peakRSS()
			p.stop()
			api.Close()
			ru, _ := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
			wall.add(isFloor, float64(took.Nanoseconds()))
			rss.add(isFloor, float64(r))
			if ru != nil {
				faults.add(isFloor, float64(ru.Minflt+ru.Majflt))
				cpu.add(isFloor, float64(time.Duration(ru.Utime.Nano()+ru.Stime.Nano())))
			}
			b.StartTimer()
		}
	}
	wall.report(b, "ns")
	cpu.report(b, "cpu-ns")
	faults.report(b, "faults")
	rss.report(b, "peak-RSS-B")
}

// BenchmarkPairedWarm runs warm invocations of the floor and the core
// alternately (part one's BenchmarkWarm, interleaved), and reports the
// bytes and objects each allocates per invocation.
func BenchmarkPairedWarm(b *testing.B) {
	srv := wechattest.NewServer()
	defer srv.Close()
	hc := newFloorClient(b)
	h := newCore(b, srv.StaticVars())
	run := func(isFloor bool) {
		ctx, cancel := lambdaContext()
		defer cancel()
		if isFloor {
			out, err := floor.Fetch(ctx, hc, srv.URL, wechattest.AccessToken, wechattest.ComponentAccessToken)
			if err != nil || len(out) == 0 {
				b.Fatalf("floor: %v", err)
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
	var wall pairedSums
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, isFloor := range []bool{i%2 == 0, i%2 != 0} {
			start := time.Now()
			run(isFloor)
			wall.add(isFloor, float64(time.Since(start).Nanoseconds()))
		}
	}
	b.StopTimer()
	wall.report(b, "ns")
	var allocs, heap pairedSums
	for _, isFloor := range []bool{true, false} {
		n, by := allocsPerRun(50, func() { run(isFloor) })
		allocs.add(isFloor, n*float64(b.N))
		heap.add(isFloor, by*float64(b.N))
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
// floor client and its first fetch against a new core (invoke.New) and its
// first invocation, alternately, with the allocations of each.
func BenchmarkPairedFirstInvoke(b *testing.B) {
	srv := wechattest.NewServer()
	defer srv.Close()
	env := srv.StaticVars()
	run := func(isFloor bool) {
		ctx, cancel := lambdaContext()
		defer cancel()
		if isFloor {
			hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
			out, err := floor.Fetch(ctx, hc, srv.URL, wechattest.AccessToken, wechattest.ComponentAccessToken)
			hc.CloseIdleConnections()
			if err != nil || len(out) == 0 {
				b.Fatalf("floor: %v", err)
			}
			return
		}
		h := invoke.NewWithLog(invoke.PlatformAWSLambda, io.Discard)
		h.Lookup = config.Map(env)
		out, err := h.Invoke(ctx, directAll)
		if h.Runtimes.HTTPClient != nil {
			h.Runtimes.HTTPClient.CloseIdleConnections()
		}
		if err != nil || !bytes.Contains(out[:min(len(out), 200)], []byte(`"ok":true`)) {
			b.Fatalf("core: %v %.300s", err, out)
		}
	}
	var wall pairedSums
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, isFloor := range []bool{i%2 == 0, i%2 != 0} {
			start := time.Now()
			run(isFloor)
			wall.add(isFloor, float64(time.Since(start).Nanoseconds()))
		}
	}
	b.StopTimer()
	wall.report(b, "ns")
	var allocs, heap pairedSums
	for _, isFloor := range []bool{true, false} {
		n, by := allocsPerRun(20, func() { run(isFloor) })
		allocs.add(isFloor, n*float64(b.N))
		heap.add(isFloor, by*float64(b.N))
	}
	allocs.report(b, "allocs")
	heap.report(b, "B")
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
// built floor and bootstrap each started once against their own Runtime
// API emulator, then invoked alternately, timing each event from the
// emulator's side (queued to answer posted). It also reports the CPU time
// each process spends per invocation.
func BenchmarkPairedWarmBinary(b *testing.B) {
	srv := wechattest.NewServer()
	defer srv.Close()
	type fn struct {
		api *lambdatest.RuntimeAPI
		p   *process
	}
	fns := map[bool]*fn{}
	for _, isFloor := range []bool{true, false} {
		name := "wxcloudenv"
		if isFloor {
			name = "floor"
		}
		api := lambdatest.NewRuntimeAPI()
		defer api.Close()
		p := startProcess(b, build(b, name, runtimeArch()), api.Env(srv.StaticVars()))
		defer p.stop()
		fns[isFloor] = &fn{api, p}
	}
	invoke := func(isFloor bool) time.Duration {
		f := fns[isFloor]
		start := time.Now()
		a, _, err := f.api.Invoke(directAll, 30*time.Second)
		took := time.Since(start)
		if err != nil || a.IsError || !bytes.Contains(a.Body, []byte(`"errcode":0`)) {
			b.Fatalf("floor %v: %v %.300s\n%s", isFloor, err, a.Body, f.p.out.String())
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
		for _, isFloor := range []bool{i%2 == 0, i%2 != 0} {
			wall.add(isFloor, float64(invoke(isFloor).Nanoseconds()))
		}
	}
	b.StopTimer()
	wall.report(b, "ns")
	var cpu pairedSums
	for _, isFloor := range []bool{true, false} {
		cpu.add(isFloor, float64(procCPU(fns[isFloor].p)-cpu0[isFloor]))
	}
	cpu.report(b, "cpu-ns")
}

// fleetRSS execs bin against srv's fleet, sends it the scheduled event
// twice (two runs of one warm instance) and returns its peak RSS. The
// floor answers its own shape; the core must answer a complete event.
func fleetRSS(b *testing.B, bin string, srv *wechattest.Server, n int, isFloor bool) int64 {
	api := lambdatest.NewRuntimeAPI()
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
		if !isFloor {
			checkFleetEvent(b, a.Body, nil, n)
		} else if !bytes.HasPrefix(a.Body, []byte(`{"`)) {
			b.Fatalf("floor: %.300s", a.Body)
		}
	}
	r, ok := p.peakRSS()
	if !ok {
		b.Fatal("no VmHWM in /proc")
	}
	return r
}

// BenchmarkPairedFleetRSS runs the built fleet floor and bootstrap, two
// scheduled runs each, over fleets of 1,000 and 10,000 authorizers (the
// server answering at once), and reports each side's peak RSS at both
// sizes and its growth from 1,000 to 10,000.
func BenchmarkPairedFleetRSS(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("the built functions are linux binaries")
	}
	bins := map[bool]string{true: build(b, "floor-fleet", runtimeArch()), false: build(b, "wxcloudenv", runtimeArch())}
	sizes := []int{1000, 10000}
	srvs := map[int]*wechattest.Server{}
	for _, n := range sizes {
		srvs[n] = newFleetServer(b, n, 0)
	}
	var small, large pairedSums
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, isFloor := range []bool{i%2 == 0, i%2 != 0} {
			small.add(isFloor, float64(fleetRSS(b, bins[isFloor], srvs[1000], 1000, isFloor)))
			large.add(isFloor, float64(fleetRSS(b, bins[isFloor], srvs[10000], 10000, isFloor)))
		}
	}
	b.StopTimer()
	small.report(b, "1k-peak-RSS-B")
	large.report(b, "10k-peak-RSS-B")
	b.ReportMetric(large.floor/small.floor, "floor-growth")
	b.ReportMetric(large.subject/small.subject, "wxcloudenv-growth")
}
