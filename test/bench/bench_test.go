package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/internal/config/configtest"
	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
	"github.com/wxcloudenv/wxcloudenv/test/baseline"
	"github.com/wxcloudenv/wxcloudenv/test/runtimeapi"
)

// directAll is the direct payload asking for both operations.
var directAll = []byte(`{}`)

// newCore returns the core configured by env through the environment, as
// on a platform (the mains keep their operations' goroutines), logging to
// io.Discard.
func newCore(tb testing.TB, env map[string]string) *invoke.Handler {
	tb.Helper()
	h := invoke.NewWithLog(invoke.PlatformAWSLambda, io.Discard)
	h.KeepWorkers = invoke.PlatformWorkers
	h.Lookup = config.Map(env)
	tb.Cleanup(func() {
		if h.Runtimes.HTTPClient != nil {
			h.Runtimes.HTTPClient.CloseIdleConnections()
		}
	})
	return h
}

// lambdaContext is what aws-lambda-go gives the handler: a request id and
// a deadline.
func lambdaContext() (context.Context, context.CancelFunc) {
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "bench-request"})
	return context.WithTimeout(ctx, 30*time.Second)
}

// newBaselineClient returns an HTTP client like the baseline function's.
func newBaselineClient(tb testing.TB) *http.Client {
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	tb.Cleanup(hc.CloseIdleConnections)
	return hc
}

// runPair runs the baseline and the core on srv as sub-benchmarks.
func runPair(b *testing.B, srv *wechattest.Server, env map[string]string, payload []byte) {
	b.Run("baseline", func(b *testing.B) {
		hc := newBaselineClient(b)
		for b.Loop() {
			ctx, cancel := lambdaContext()
			out, err := baseline.Fetch(ctx, hc, srv.URL, wechattest.AccessToken, wechattest.ComponentAccessToken)
			cancel()
			if err != nil || len(out) == 0 {
				b.Fatalf("baseline: %v", err)
			}
		}
	})
	b.Run("wxcloudenv", func(b *testing.B) {
		h := newCore(b, env)
		for b.Loop() {
			ctx, cancel := lambdaContext()
			out, err := h.Invoke(ctx, payload)
			cancel()
			if err != nil || !bytes.Contains(out[:min(len(out), 200)], []byte(`"ok":true`)) {
				b.Fatalf("core: %v %.300s", err, out)
			}
		}
	})
}

// BenchmarkWarm is a warm direct invocation asking for both operations:
// trigger recognition, both calls, the event and the log line.
func BenchmarkWarm(b *testing.B) {
	srv := wechattest.NewServer()
	defer srv.Close()
	runPair(b, srv, configtest.StaticVars(srv.URL), directAll)
}

// BenchmarkLatency100ms injects 100 ms of latency into each endpoint: both
// operations together must cost one latency, not two.
func BenchmarkLatency100ms(b *testing.B) {
	srv := wechattest.NewServer()
	defer srv.Close()
	srv.SetLatency(wechat.GetEnvInfoPath, 100*time.Millisecond)
	srv.SetLatency(wechat.DescribeCloudBaseRunEnvsPath, 100*time.Millisecond)
	runPair(b, srv, configtest.StaticVars(srv.URL), directAll)
}

// BenchmarkRunEnvs5000 serves a describecloudbaserunenvs answer of 5000
// environments (about 5 MB).
func BenchmarkRunEnvs5000(b *testing.B) {
	srv := wechattest.NewServer()
	defer srv.Close()
	srv.SetAnswer(wechat.DescribeCloudBaseRunEnvsPath, wechattest.GenerateRunEnvs(5000))
	env := configtest.StaticVars(srv.URL)
	env["WECHAT_MAX_RESPONSE_BYTES"] = strconv.Itoa(32 << 20)
	runPair(b, srv, env, directAll)
}

// BenchmarkMintedTokens runs warm invocations that mint their tokens from
// the component and authorizer credentials, and reports how many mints
// b.N invocations cost: one of each kind.
func BenchmarkMintedTokens(b *testing.B) {
	srv := wechattest.NewServer()
	defer srv.Close()
	h := newCore(b, configtest.MintingVars(srv.URL))
	for b.Loop() {
		ctx, cancel := lambdaContext()
		out, err := h.Invoke(ctx, directAll)
		cancel()
		if err != nil || !bytes.Contains(out[:min(len(out), 200)], []byte(`"ok":true`)) {
			b.Fatalf("core: %v %.300s", err, out)
		}
	}
	b.ReportMetric(float64(srv.Calls(wechat.ComponentTokenPath)), "component-mints")
	b.ReportMetric(float64(srv.Calls(wechat.AuthorizerTokenPath)), "authorizer-mints")
	b.ReportMetric(float64(b.N), "invocations")
}

// The built functions: bootstrap and the baseline's Lambda function, built
// the same way (as make package does, for this machine's architecture).
var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
	binaries  = map[string]string{"wxcloudenv": "../../functions/aws-lambda", "baseline": "../baseline/lambda", "baseline-fleet": "../baseline/fleetlambda", "wxcloudenv-scf": "../../functions/tencent-scf"}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// build returns the path of the named function built for goos/goarch.
func build(tb testing.TB, name, goarch string) string {
	tb.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "wxcloudenv-bench")
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	if bin := os.Getenv("BENCH_BOOTSTRAP"); bin != "" && name == "wxcloudenv" && goarch == runtime.GOARCH {
		return bin // another build of bootstrap, to compare two versions in one run
	}
	out := filepath.Join(buildDir, name+"-"+goarch)
	if _, err := os.Stat(out); err == nil {
		return out
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-tags", "lambda.norpc", "-o", out, binaries[name])
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", name, err, b)
	}
	return out
}

// process is a started function.
type process struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

func startProcess(tb testing.TB, bin string, env map[string]string) *process {
	p := &process{cmd: exec.Command(bin)}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v", bin, err)
	}
	return p
}

// peakRSS reads the process's high-water resident set size from /proc.
func (p *process) peakRSS() (int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

func (p *process) stop() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

// runProcesses starts each function b.N times against a Runtime API
// emulator and a wechattest server, timing exec to first answer, and
// reports the peak resident set size of each process as well.
func runProcesses(b *testing.B, srv *wechattest.Server) {
	if runtime.GOOS != "linux" {
		b.Skip("the built functions are linux binaries")
	}
	for _, name := range []string{"baseline", "wxcloudenv"} {
		b.Run(name, func(b *testing.B) {
			bin := build(b, name, runtime.GOARCH)
			var rss int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// A fresh emulator each time: a killed process's pending
				// "next" request must not swallow the next event.
				b.StopTimer()
				api := runtimeapi.New()
				env := api.Env(configtest.StaticVars(srv.URL))
				env["WECHAT_MAX_RESPONSE_BYTES"] = strconv.Itoa(32 << 20)
				b.StartTimer()
				p := startProcess(b, bin, env)
				a, _, err := api.Invoke(directAll, 30*time.Second)
				b.StopTimer()
				if err != nil || a.IsError || !bytes.Contains(a.Body, []byte(`"errcode":0`)) {
					p.stop()
					api.Close()
					b.Fatalf("%s: %v %.300s\n%s", name, err, a.Body, p.out.String())
				}
				if r, ok := p.peakRSS(); ok {
					rss += r
				}
				p.stop()
				api.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(rss)/float64(b.N), "peak-RSS-B")
		})
	}
}

// BenchmarkColdStart execs each built function and waits for its first
// answer, through the Runtime API, as Lambda's first invocation does.
func BenchmarkColdStart(b *testing.B) {
	srv := wechattest.NewServer()
	defer srv.Close()
	runProcesses(b, srv)
}

// BenchmarkColdStartRunEnvs5000 is BenchmarkColdStart with a 5000
// environment answer: its peak-RSS-B is the memory Lambda would bill.
func BenchmarkColdStartRunEnvs5000(b *testing.B) {
	srv := wechattest.NewServer()
	defer srv.Close()
	srv.SetAnswer(wechat.DescribeCloudBaseRunEnvsPath, wechattest.GenerateRunEnvs(5000))
	runProcesses(b, srv)
}

// BenchmarkBinarySize reports the size of each function as shipped:
// linux/arm64, stripped (the SCF binary too, for the same architecture, to
// compare with Lambda's).
func BenchmarkBinarySize(b *testing.B) {
	for _, name := range []string{"baseline", "wxcloudenv", "wxcloudenv-scf"} {
		b.Run(name, func(b *testing.B) {
			bin := build(b, name, "arm64")
			fi, err := os.Stat(bin)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
			}
			b.ReportMetric(float64(fi.Size()), "binary-B")
		})
	}
}
