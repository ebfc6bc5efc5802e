package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
	"github.com/wxcloudenv/wxcloudenv/test/testkit"
)

// rieInstall is how a missing emulator is installed: the Makefile pins the
// version, and `make test` installs it first.
func rieInstall(t *testing.T) string {
	version := "RIE_VERSION from the Makefile"
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(mk)) {
		if v, ok := strings.CutPrefix(line, "RIE_VERSION"); ok {
			version = strings.TrimSpace(strings.TrimLeft(v, " ?:="))
		}
	}
	return "make bin/aws-lambda-rie, or GOBIN=$PWD/bin go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@" + version
}

// rieFunction is the built bootstrap running under the real AWS Lambda
// Runtime Interface Emulator, the program `sam local` runs in its container.
type rieFunction struct {
	url string
	out *safeBuffer
}

// startRIE runs bin/aws-lambda-rie with the bootstrap and env on a free
// loopback port, and waits until it answers.
func startRIE(t *testing.T, env map[string]string) *rieFunction {
	t.Helper()
	rie, err := filepath.Abs("../../bin/aws-lambda-rie")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(rie); err != nil {
		t.Fatalf("the Runtime Interface Emulator is missing (%v): install it with %s", err, rieInstall(t))
	}
	testkit.LockRIE(t)
	// A free port can be taken by another process before the emulator
	// binds it (make test may run beside another): start again on a new
	// port when the emulator exits before it listens.
	for try := 1; ; try++ {
		f, exited := tryRIE(t, rie, env)
		if f != nil {
			return f
		}
		if try == 3 {
			t.Fatalf("the emulator did not start (3 tries): %s", exited)
		}
	}
}

// tryRIE starts the emulator on a free port and waits until it listens. It
// returns the function, or why the emulator exited before listening.
func tryRIE(t *testing.T, rie string, env map[string]string) (*rieFunction, string) {
	t.Helper()
	addr := "127.0.0.1:" + freePort(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, bootstrapBin)
	cmd.Dir = filepath.Dir(bootstrapBin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "AWS_LAMBDA_FUNCTION_TIMEOUT=30"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := &safeBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", rie, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	f := &rieFunction{url: "http://" + addr + "/2015-03-31/functions/function/invocations", out: out}
	// The emulator listens at once; it starts the bootstrap on the first
	// invocation (as Lambda does on a cold start).
	// A generous wait: a loaded machine can be slow to start it.
	for i := 0; ; i++ {
		select {
		case err := <-exited:
			exited <- err
			return nil, fmt.Sprintf("%v\n%s", err, out.String())
		default:
		}
		c, err := http.Get("http://" + addr + "/")
		if err == nil {
			c.Body.Close()
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("aws-lambda-rie output:\n%s", out.String())
				}
			})
			return f, ""
		}
		if i == 2400 {
			stop()
			t.Fatalf("the emulator never listened on %s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// invoke posts one event as `sam local invoke` / `curl` would.
func (f *rieFunction) invoke(t *testing.T, event []byte) []byte {
	t.Helper()
	resp, err := http.Post(f.url, "application/json", bytes.NewReader(event))
	if err != nil {
		t.Fatalf("invoking: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the emulator answered %s: %s", resp.Status, b)
	}
	return b
}

func TestRIETriggers(t *testing.T) {
	srv := wechattest.NewServer()
	defer srv.Close()
	f := startRIE(t, wechatEnv(srv))
	for _, tt := range []struct {
		file, trigger string
		status        int
	}{
		{"direct.json", "direct", 0},
		{"aws-schedule.json", "schedule", 0},
		{"aws-scheduler.json", "schedule", 0},
		{"aws-rest-api-v1.json", "http", 200},
		{"aws-http-api-v2.json", "http", 200},
		{"aws-function-url.json", "http", 200},
	} {
		t.Run(tt.file, func(t *testing.T) {
			ev, status := eventOf(t, f.invoke(t, readEvent(t, tt.file)))
			if status != tt.status || ev["ok"] != true || ev["trigger"] != tt.trigger || ev["platform"] != "aws-lambda" || ev["source"] != "wxcloudenv" {
				t.Errorf("status %d, event %v", status, ev)
			}
			id, _ := ev["request_id"].(string)
			if len(id) != 36 {
				t.Errorf("request_id %q is not the emulator's request id", id)
			}
			if l := logLine(t, f.out, id); l["trigger"] != tt.trigger {
				t.Errorf("log line = %v", l)
			}
		})
	}
}

// TestRIEFailures: a failed check fails the invocation (so Lambda's Errors
// metric counts it), an HTTP route answers its status, and no secret
// reaches the answer or the emulator's output.
func TestRIEFailures(t *testing.T) {
	srv := wechattest.NewServer()
	defer srv.Close()
	srv.Always(wechat.DescribeCloudBaseRunEnvsPath, wechattest.Fault{ErrCode: 40001, ErrMsg: "invalid credential, access_token is invalid or not latest"})
	env := wechatEnv(srv)
	env["WXCLOUDENV_API_KEY"] = "rie-api-key-9f8e7d"
	f := startRIE(t, env)

	direct := f.invoke(t, []byte(`{}`))
	if ev, _ := eventOf(t, direct); ev["ok"] != false {
		t.Errorf("a direct run with a failed operation answered %v, want ok false", ev)
	}
	scheduled := f.invoke(t, readEvent(t, "aws-schedule.json"))
	var fail struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if err := json.Unmarshal(scheduled, &fail); err != nil || fail.ErrorMessage == "" {
		t.Errorf("a failed scheduled run answered %s (%v), want the function error", scheduled, err)
	}
	if !strings.Contains(fail.ErrorMessage, "describecloudbaserunenvs") {
		t.Errorf("errorMessage %q does not name the failed operation", fail.ErrorMessage)
	}

	unsigned := readEvent(t, "aws-http-api-v2.json")
	ev, status := eventOf(t, f.invoke(t, unsigned))
	if status != http.StatusUnauthorized {
		t.Errorf("without the API key: status %d, %v; want 401", status, ev)
	}
	for _, secret := range []string{wechattest.AccessToken, wechattest.ComponentAccessToken, "rie-api-key-9f8e7d"} {
		if strings.Contains(string(direct)+string(scheduled), secret) || strings.Contains(f.out.String(), secret) {
			t.Errorf("a secret (%d bytes) reached the answer or the output", len(secret))
		}
	}
}
