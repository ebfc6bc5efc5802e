package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
	"github.com/wxcloudenv/wxcloudenv/test/testkit"
)

// clearCredentials keeps real credentials of the developer's environment
// out of the tests (t.Setenv: these tests are not parallel).
func clearCredentials(t *testing.T) {
	for _, k := range credentialVars {
		t.Setenv(k, "")
	}
	t.Setenv("WECHAT_API_BASE_URL", "")
}

func TestRunEmulate(t *testing.T) {
	clearCredentials(t)
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"-emulate"}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	var ev map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &ev); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout.String())
	}
	if ev["ok"] != true || ev["platform"] != "local" || len(ev["results"].(map[string]any)) != 2 {
		t.Errorf("event = %v", ev)
	}
	// A newcomer's first run shows what the tool is for: an alert.
	alerts, _ := ev["alerts"].([]any)
	if len(alerts) != 1 || alerts[0].(map[string]any)["status"] != "HALTED" {
		t.Errorf("the demo scenario shows alerts %v, want prod-7c21be HALTED", ev["alerts"])
	}
	if !strings.Contains(stderr.String(), `"msg":"invocation"`) {
		t.Errorf("no log line on stderr: %s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "summary: 2 operations, 4 items, 1 alerts, 0 failures\n  ALERT environment prod-7c21be (prod) is HALTED") {
		t.Errorf("no summary on stderr: %s", stderr.String())
	}
}

func TestScenariosAndFaults(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		summary string
		failed  []string
	}{
		{"healthy", []string{"-scenario", "healthy"}, "summary: 2 operations, 4 items, 0 alerts, 0 failures", nil},
		{"outage", []string{"-scenario", "outage"}, "summary: 2 operations, 0 items, 0 alerts, 2 failures", []string{"FAILED describecloudbaserunenvs: permission errcode 61004", "FAILED getenvinfo: upstream HTTP 503"}},
		{"errcode", []string{"-scenario", "healthy", "-fault", "describecloudbaserunenvs=errcode:40001"}, "summary: 2 operations, 2 items, 0 alerts, 1 failures", []string{"FAILED describecloudbaserunenvs: auth errcode 40001"}},
		{"http and demo", []string{"-fault", "describecloudbaserunenvs=http:502"}, "summary: 2 operations, 2 items, 1 alerts, 1 failures", []string{"FAILED describecloudbaserunenvs: upstream HTTP 502"}},
		{"reset", []string{"-fault", "getenvinfo=reset"}, "1 failures", []string{"FAILED getenvinfo: network"}},
		{"garbage", []string{"-fault", "getenvinfo=garbage"}, "1 failures", []string{"FAILED getenvinfo:"}},
		{"token path", []string{"-fault", "/cgi-bin/component/api_component_token=errcode:61004"}, "2 failures", []string{"FAILED describecloudbaserunenvs:", "FAILED getenvinfo:"}},
		{"timeout", []string{"-fault", "getenvinfo=timeout", "-timeout", "2s"}, "1 failures", []string{"FAILED getenvinfo: timeout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearCredentials(t)
			var stdout, stderr bytes.Buffer
			if err := run(t.Context(), append([]string{"-emulate"}, tc.args...), nil, &stdout, &stderr); err != nil {
				t.Fatalf("run: %v\n%s", err, stderr.String())
			}
			if !json.Valid(stdout.Bytes()) {
				t.Errorf("output is not JSON: %s", stdout.String())
			}
			if !strings.Contains(stderr.String(), tc.summary) {
				t.Errorf("summary: want %q in\n%s", tc.summary, stderr.String())
			}
			for _, f := range tc.failed {
				if !strings.Contains(stderr.String(), f) {
					t.Errorf("want %q in\n%s", f, stderr.String())
				}
			}
			if strings.Contains(stderr.String()+stdout.String(), "secret") {
				t.Errorf("an emulator secret leaked:\n%s", stderr.String())
			}
		})
	}
}

func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-fault", "getenvinfo=errcode:1"}, "need -emulate"},
		{[]string{"-scenario", "healthy"}, "need -emulate"},
		{[]string{"-emulate", "-scenario", "nope"}, "unknown scenario"},
		{[]string{"-emulate", "-fault", "getenvinfo"}, "want OPERATION=KIND"},
		{[]string{"-emulate", "-fault", "nope=reset"}, "unknown operation"},
		{[]string{"-emulate", "-fault", "getenvinfo=errcode:x"}, "needs a number"},
		{[]string{"-emulate", "-fault", "getenvinfo=http:999"}, "out of range"},
		{[]string{"-emulate", "-fault", "getenvinfo=slow"}, "unknown kind"},
		{[]string{"-event", "x", "-payload", "{}"}, "not both"},
		{[]string{"-serve", "127.0.0.1:0", "-payload", "{}"}, "-serve takes"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-emulate", "-serve", "127.0.0.1:0", "-rie", "/nonexistent/rie"}, "make rie installs it"},
		{[]string{"-emulate", "-payload", `{"operations":["nope"]}`}, "unknown operation"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			clearCredentials(t)
			err := run(t.Context(), tc.args, nil, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestHelp: -h exits 0 (run returns nil) and documents every flag.
func TestHelp(t *testing.T) {
	var stderr bytes.Buffer
	if err := run(t.Context(), []string{"-h"}, nil, io.Discard, &stderr); err != nil {
		t.Fatalf("-h: %v", err)
	}
	for _, f := range []string{"-emulate", "-scenario", "-fault", "-event", "-payload", "-timeout", "-compact", "-serve", "-rie", "-bootstrap", "-variables", "-store", "-runs", "-notify-preview", "demo", "fleet", "healthy", "outage", "errcode:N", "http:N", "timeout", "reset", "garbage"} {
		if !strings.Contains(stderr.String(), f) {
			t.Errorf("-h does not mention %s", f)
		}
	}
	// The binary itself exits 0.
	cmd := exec.Command("go", "run", ".", "-h")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("go run . -h: %v\n%s", err, out)
	}
}

// TestVariables: -variables lists every configuration variable.
func TestVariables(t *testing.T) {
	var stdout bytes.Buffer
	if err := run(t.Context(), []string{"-variables"}, nil, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, v := range config.Variables {
		if !strings.Contains(stdout.String(), v) {
			t.Errorf("-variables does not list %s", v)
		}
	}
}

func TestRunEventFile(t *testing.T) {
	clearCredentials(t)
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"-emulate", "-compact", "-event", "../../events/scf-function-url.json"}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), `{"isBase64Encoded":false,"statusCode":200`) {
		t.Errorf("-compact output = %.200s", stdout.String())
	}
	// Without -compact the body is JSON, not an escaped string.
	stdout.Reset()
	stderr.Reset()
	if err := run(t.Context(), []string{"-emulate", "-event", "../../events/aws-http-api-v2.json"}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	var w struct {
		StatusCode int             `json:"statusCode"`
		Body       json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &w); err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body, &body); err != nil || body["source"] != "wxcloudenv" {
		t.Errorf("body is not the event as JSON: %v\n%s", err, w.Body)
	}
	if !strings.Contains(stderr.String(), "summary: ") {
		t.Errorf("no summary for an HTTP answer: %s", stderr.String())
	}
}

func TestReadable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{`{"statusCode":200,"body":"{\"a\":1}"}`, "{\n  \"body\": {\n    \"a\": 1\n  },\n  \"statusCode\": 200\n}"},
		{`{"statusCode":200,"isBase64Encoded":true,"body":"eyJhIjoxfQ=="}`, "{\n  \"body\": {\n    \"a\": 1\n  },\n  \"isBase64Encoded\": true,\n  \"statusCode\": 200\n}"},
		{`{"statusCode":401,"body":"not json"}`, "{\n  \"statusCode\": 401,\n  \"body\": \"not json\"\n}"},
		{`{"ok":true}`, "{\n  \"ok\": true\n}"},
		{`not json`, "not json"},
	} {
		if got := string(readable([]byte(tc.in))); got != tc.want {
			t.Errorf("readable(%s) =\n%s\nwant\n%s", tc.in, got, tc.want)
		}
	}
}

// TestServe runs bin/bootstrap under the real Runtime Interface Emulator,
// as `make rie` does, and calls it over HTTP.
func TestServe(t *testing.T) {
	clearCredentials(t)
	root, _ := filepath.Abs("../..")
	rie := filepath.Join(root, "bin", "aws-lambda-rie")
	if _, err := os.Stat(rie); err != nil {
		t.Fatalf("%s is missing: run `make rie` (GOBIN=$PWD/bin go install %s)", rie, rieModule(t, root))
	}
	testkit.LockRIE(t)
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bootstrap, "../aws-lambda")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// The RIE always serves the Runtime API on 127.0.0.1:9001: another RIE
	// there (a `make rie` left running) makes every try fail, so say so.
	if l, err := net.Listen("tcp", "127.0.0.1:9001"); err != nil {
		t.Fatalf("127.0.0.1:9001, which the RIE always takes for the Runtime API, is in use (a `make rie` running?): %v", err)
	} else {
		l.Close()
	}
	// A free port can be taken by another process before the emulator binds
	// it (make test may run beside another): serve again on a new port when
	// the runner ends before the emulator answers.
	var resp *http.Response
	for try := 1; resp == nil; try++ {
		resp = serveOnce(t, rie, bootstrap, try == 3)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var ev struct {
		Platform string `json:"platform"`
		Alerts   []struct {
			Env    string `json:"env"`
			Status string `json:"status"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal(b, &ev); err != nil || ev.Platform != "aws-lambda" || len(ev.Alerts) != 1 || ev.Alerts[0].Status != "HALTED" {
		t.Errorf("answer %s (%v), want the demo scenario's HALTED environment from aws-lambda", b, err)
	}
}

// serveOnce runs the runner with -serve on a free port and posts {} to it.
// It returns the answer, or nil when the runner ended before answering
// (fatal when last is set). The runner is stopped when the test ends.
func serveOnce(t *testing.T, rie, bootstrap string, last bool) *http.Response {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	ctx, cancel := context.WithCancel(t.Context())
	logs := &testkit.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-emulate", "-serve", addr, "-rie", rie, "-bootstrap", bootstrap}, nil, io.Discard, logs)
	}()
	url := "http://" + addr + "/2015-03-31/functions/function/invocations"
	for range 600 { // up to 60 s: a loaded machine can be slow to start it
		resp, err := http.Post(url, "application/json", bytes.NewReader([]byte(`{}`)))
		if err == nil {
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("run: %v", err)
				}
				// Stopping the runner stops the emulator and the
				// bootstrap: nothing is left running or on the port.
				if left := stillRunning(bootstrap); len(left) > 0 {
					t.Errorf("after the runner stopped, still running: %v", left)
				}
				if l, err := net.Listen("tcp", addr); err != nil {
					t.Errorf("after the runner stopped, %s is still taken: %v", addr, err)
				} else {
					l.Close()
				}
				if t.Failed() {
					t.Logf("output:\n%s", logs.String())
				}
			})
			return resp
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case err := <-done:
			cancel()
			if last {
				t.Fatalf("run ended early: %v\n%s", err, logs.String())
			}
			t.Logf("run ended early, serving again on a new port: %v", err)
			return nil
		}
	}
	cancel()
	<-done
	t.Fatalf("the emulator never answered on %s\n%s", addr, logs.String())
	return nil
}

// rieModule reads the pinned Runtime Interface Emulator from the Makefile.
func rieModule(t *testing.T, root string) string {
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(mk)) {
		if v, ok := strings.CutPrefix(line, "RIE_VERSION"); ok {
			return fmt.Sprintf("github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@%s", strings.TrimSpace(strings.TrimLeft(v, " ?:=")))
		}
	}
	return "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
}

// TestFleetScenario: the fleet scenario shows the fleet, its per-authorizer
// failure, its alert and the robot message a preview renders.
func TestFleetScenario(t *testing.T) {
	clearCredentials(t)
	t.Setenv("WXCLOUDENV_AUTHORIZERS", "")
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"-emulate", "-scenario", "fleet", "-notify-preview"}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{
		"getenvinfo over 4 authorizers, 1 failed",
		"FAILED getenvinfo wxf1ee700000000002: auth errcode 61023",
		"ALERT wxf1ee700000000001 environment env0-000001 (env0) is HALTED",
		"notify preview (WeCom markdown, not sent):",
		"**NEW** 测试商户-000001 (wxf1ee700000000001) getenvinfo env0-000001", // the merchant by name
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

// TestFleetScenarioMatchesItsDocs: the fleet scenario's size is the one
// its usage text and docs/deploy.md give.
func TestFleetScenarioMatchesItsDocs(t *testing.T) {
	deploy, err := os.ReadFile("../../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"usage": usage, "docs/deploy.md": string(deploy)} {
		if !strings.Contains(strings.Join(strings.Fields(text), " "), "over four authorizers") {
			t.Errorf("%s does not say the fleet scenario has four authorizers", name)
		}
	}
}

// TestSummaryCountsRobotFailures: a robot that refuses the message shows
// in the summary's counts and on its own line.
func TestSummaryCountsRobotFailures(t *testing.T) {
	clearCredentials(t)
	robots := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(robots.Close)
	robots.SetAnswer("broken-robot-key", notifytest.Answer{ErrCode: 93000, ErrMsg: "invalid webhook url"})
	t.Setenv("WXCLOUDENV_NOTIFY", robots.WeComURL("broken-robot-key")+","+robots.WeComURL("working-robot-key"))
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"-emulate"}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"1 alerts, 0 failures, 1 of 2 robot messages failed", "ROBOT FAILED wecom", "93000"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if strings.Contains(stderr.String()+stdout.String(), "broken-robot-key") {
		t.Error("the robot's key shows in the output")
	}
}

// TestStoreRuns: with a file store, the second cold run against the same
// emulator mints nothing; with the memory store it mints again.
func TestStoreRuns(t *testing.T) {
	clearCredentials(t)
	t.Setenv("WXCLOUDENV_STORE", "")
	for _, tc := range []struct {
		args   []string
		second string
	}{
		{[]string{"-store", "file://" + filepath.Join(t.TempDir(), "x.db")}, "minted 0 component, 0 authorizer"},
		{[]string{"-store", "memory"}, "minted 1 component, 1 authorizer"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(t.Context(), append([]string{"-emulate", "-runs", "2"}, tc.args...), nil, &stdout, &stderr); err != nil {
			t.Fatalf("run: %v\n%s", err, stderr.String())
		}
		_, second, _ := strings.Cut(stderr.String(), "run 2 of 2")
		if !strings.Contains(stderr.String(), "minted 1 component, 1 authorizer") || !strings.Contains(second, tc.second) {
			t.Errorf("%v: want the second run to have %s:\n%s", tc.args, tc.second, stderr.String())
		}
	}
	// The runner hands the handler its variables (Handler.Lookup): the
	// process environment is never changed.
	for _, k := range []string{"WXCLOUDENV_STORE", "WECHAT_API_BASE_URL", "WECHAT_COMPONENT_APPID", "WECHAT_AUTHORIZER_REFRESH_TOKEN"} {
		if v := os.Getenv(k); v != "" {
			t.Errorf("after the runs %s=%q in the process environment, want it untouched", k, v)
		}
	}
}

// processesRunning returns the pids of processes whose command line holds
// path (read from /proc; none where there is no /proc).
func processesRunning(path string) []string {
	dirs, _ := os.ReadDir("/proc")
	var pids []string
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		if err == nil && bytes.Contains(cmdline, []byte(path)) {
			pids = append(pids, d.Name())
		}
	}
	return pids
}

// TestServeStopsTheWholeGroup: stopping the runner stops the emulator and
// every process it started, even one that ignores SIGINT (as a bootstrap
// the emulator does not stop would): nothing is left behind.
func TestServeStopsTheWholeGroup(t *testing.T) {
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skip("needs /proc to list processes") // not Linux: the group is stopped the same way
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "fake-rie")
	// The fake emulator starts a child that ignores SIGINT, then waits.
	script := "#!/bin/sh\nif [ \"$1\" = child ]; then trap '' INT; while :; do sleep 1; done; fi\n\"$0\" child &\nwait\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serveRIE(ctx, fake, fake, "127.0.0.1:0", newEnvironment(), io.Discard) }()
	deadline := time.Now().Add(30 * time.Second)
	for len(processesRunning(fake)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the fake emulator and its child did not start: %v", processesRunning(fake))
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serveRIE: %v", err)
	}
	if left := stillRunning(fake); len(left) > 0 {
		t.Errorf("after the runner stopped, still running: %v", left)
	}
}

// stillRunning returns the processes whose command line holds path once
// they have had a few seconds to end (a killed process leaves /proc when
// the kernel has delivered the signal, which takes a moment on a loaded
// machine).
func stillRunning(path string) []string {
	left := processesRunning(path)
	for deadline := time.Now().Add(10 * time.Second); len(left) > 0 && time.Now().Before(deadline); left = processesRunning(path) {
		time.Sleep(50 * time.Millisecond)
	}
	return left
}

// TestConfigErrorPrintsOnce: an invalid configuration is printed once, in
// the function's log line; the runner's last line does not repeat it.
func TestConfigErrorPrintsOnce(t *testing.T) {
	clearCredentials(t)
	t.Setenv("WECHAT_TIMEOUT", "soon")
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"-emulate"}, nil, &stdout, &stderr)
	if err == nil {
		t.Fatal("run succeeded with WECHAT_TIMEOUT=soon")
	}
	all := stderr.String() + exitMessage(err) + "\n"
	if n := strings.Count(all, "WECHAT_TIMEOUT"); n != 1 {
		t.Errorf("WECHAT_TIMEOUT is printed %d times, want once:\n%s", n, all)
	}
	if stdout.Len() != 0 {
		t.Errorf("standard output is not empty: %s", stdout.String())
	}
}
