package invoke_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/internal/config/configtest"
	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
	"github.com/wxcloudenv/wxcloudenv/test/testkit"
)

// fixedTime is the clock of every golden invocation.
var fixedTime = time.Date(2026, 11, 24, 8, 0, 0, 123_000_000, time.UTC)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct{ testkit.SyncBuffer }

// Lines returns the log lines, decoded.
func (s *syncBuffer) Lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

// env is a configuration for a test, read through Handler.Lookup.
type env map[string]string

// staticEnv points at srv with the emulator's static tokens.
func staticEnv(srv *wechattest.Server) env {
	e := env(configtest.StaticVars(srv.URL))
	e["WECHAT_RETRIES"], e["WECHAT_TIMEOUT"] = "2", "2s"
	return e
}

// mintEnv points at srv with credentials that mint every token.
func mintEnv(srv *wechattest.Server) env {
	e := env(configtest.MintingVars(srv.URL))
	e["WECHAT_TIMEOUT"] = "2s"
	return e
}

// harness is a Handler wired to a fake WeChat.
type harness struct {
	srv *wechattest.Server
	h   *invoke.Handler
	log *syncBuffer
}

// newHarness returns a handler configured by e alone (not the process
// environment, so tests can run in parallel), with a fixed clock and a
// captured log.
func newHarness(t *testing.T, srv *wechattest.Server, e env) *harness {
	t.Helper()
	log := &syncBuffer{}
	h := invoke.NewWithLog(invoke.PlatformAWSLambda, log)
	h.Lookup = config.Map(e)
	h.Now = func() time.Time { return fixedTime }
	h.Runtimes.Options = []wechat.Option{wechat.WithBackoff(time.Millisecond, 5*time.Millisecond)}
	return &harness{srv: srv, h: h, log: log}
}

func newServer(t *testing.T) *wechattest.Server {
	t.Helper()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

// invoke runs one invocation with a request id and a deadline d away.
func (hs *harness) invoke(t *testing.T, event []byte, d time.Duration) ([]byte, error) {
	t.Helper()
	ctx := lambdacontext.NewContext(t.Context(), &lambdacontext.LambdaContext{AwsRequestID: "8f6b1c2d-test-request"})
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return hs.h.Invoke(ctx, event)
}

// decoded is an answer taken apart: the HTTP status (0 for non-HTTP), its
// headers, and the event or error body.
type decoded struct {
	status  int
	headers map[string]string
	body    map[string]any
}

func decode(t *testing.T, out []byte) decoded {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, out)
	}
	sc, ok := m["statusCode"].(float64)
	if !ok {
		return decoded{body: m}
	}
	d := decoded{status: int(sc), headers: map[string]string{}}
	for k, v := range m["headers"].(map[string]any) {
		d.headers[k] = v.(string)
	}
	if err := json.Unmarshal([]byte(m["body"].(string)), &d.body); err != nil {
		t.Fatalf("HTTP body is not JSON: %v", err)
	}
	return d
}

// normalize makes an answer comparable: HTTP bodies are decoded and every
// duration_ms is zeroed.
func normalize(t *testing.T, out []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, out)
	}
	if m, ok := v.(map[string]any); ok {
		if body, ok := m["body"].(string); ok {
			var b any
			if json.Unmarshal([]byte(body), &b) == nil {
				m["body"] = b
			}
		}
	}
	zeroDurations(v)
	b, _ := json.MarshalIndent(v, "", "  ")
	return append(b, '\n')
}

func zeroDurations(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if k == "duration_ms" {
				x[k] = 0
				continue
			}
			zeroDurations(e)
		}
	case []any:
		for _, e := range x {
			zeroDurations(e)
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testkit.Golden(t, filepath.Join("testdata", "golden", name), got)
}

// moduleDir returns the directory of a module in the module cache.
func moduleDir(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", path).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", path, err)
	}
	return strings.TrimSpace(string(out))
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
