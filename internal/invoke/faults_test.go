package invoke_test

import (
	"bytes"
	"encoding/json"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
	"github.com/wxcloudenv/wxcloudenv/test/testkit"
)

// outcome is what one operation of a fault-matrix row must end with.
type outcome struct {
	ok         bool
	kind       string
	errcode    int
	retryable  bool
	attempts   int
	httpStatus int // error.http_status
	// orAttempts, when not 0, is another acceptable attempt count: when
	// every token is revoked, getenvinfo's re-mint of the authorizer token
	// may renew the shared component token before describecloudbaserunenvs
	// sends its first request, which then needs no second one.
	orAttempts int
}

// faultRow is one row of the fault matrix: a fault, where it is injected,
// and what every operation must end with. An operation without an entry in
// want must succeed at the first attempt with its answer intact.
type faultRow struct {
	name string
	// minted uses credentials that mint both tokens instead of static ones.
	minted bool
	// dead lists base URLs that refuse connections, tried before the server.
	dead int
	// onlyDead leaves the server out of the base URLs.
	onlyDead bool
	vars     env
	// inject sets up the fault on a fresh server.
	inject func(srv *wechattest.Server)
	// warm runs one invocation before the fault (to mint tokens).
	warm bool
	// after runs after the warm invocation.
	after func(srv *wechattest.Server)
	// deadline of the invocation (5 s when zero).
	deadline time.Duration
	want     map[string]outcome
	// status is the HTTP trigger's status.
	status int
	// maxWritten bounds what the server wrote for the faulted answer.
	maxWritten int64
}

const (
	envInfo = wechat.OpGetEnvInfo
	runEnvs = wechat.OpDescribeCloudBaseRunEnvs
)

func always(path string, f wechattest.Fault) func(*wechattest.Server) {
	return func(srv *wechattest.Server) { srv.Always(path, f) }
}

func once(path string, f wechattest.Fault) func(*wechattest.Server) {
	return func(srv *wechattest.Server) { srv.Inject(path, f) }
}

var html502 = wechattest.Fault{Status: 502, ContentType: "text/html", Body: []byte("<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>")}

var faultMatrix = []faultRow{
	{name: "errcode -1 once, retried", inject: once(wechat.GetEnvInfoPath, wechattest.Fault{ErrCode: -1}),
		want: map[string]outcome{envInfo: {ok: true, attempts: 2}}, status: 200},
	{name: "errcode -1 every time", inject: always(wechat.GetEnvInfoPath, wechattest.Fault{ErrCode: -1}),
		want: map[string]outcome{envInfo: {kind: "upstream", errcode: -1, retryable: true, attempts: 3}}, status: 502},
	{name: "errcode -1000 every time", inject: always(wechat.DescribeCloudBaseRunEnvsPath, wechattest.Fault{ErrCode: -1000}),
		want: map[string]outcome{runEnvs: {kind: "upstream", errcode: -1000, retryable: true, attempts: 3}}, status: 502},
	{name: "HTTP 503 once, retried", inject: once(wechat.DescribeCloudBaseRunEnvsPath, wechattest.Fault{Status: 503}),
		want: map[string]outcome{runEnvs: {ok: true, attempts: 2}}, status: 200},
	{name: "HTTP 502 with an HTML page every time", inject: always(wechat.DescribeCloudBaseRunEnvsPath, html502),
		want: map[string]outcome{runEnvs: {kind: "upstream", retryable: true, attempts: 3, httpStatus: 502}}, status: 502},
	{name: "HTTP 200 with an HTML page", inject: always(wechat.GetEnvInfoPath, wechattest.Fault{Status: 200, ContentType: "text/html", Body: []byte("<html>maintenance</html>")}),
		want: map[string]outcome{envInfo: {kind: "bad_response", attempts: 1}}, status: 502},
	{name: "connection refused, failover to the next URL", dead: 1,
		want: map[string]outcome{envInfo: {ok: true, attempts: 2}, runEnvs: {ok: true, attempts: 2, orAttempts: 1}}, status: 200},
	{name: "connection refused everywhere", dead: 1, onlyDead: true,
		want: map[string]outcome{envInfo: {kind: "network", retryable: true, attempts: 3}, runEnvs: {kind: "network", retryable: true, attempts: 3}}, status: 502},
	{name: "connection reset once, retried", inject: once(wechat.GetEnvInfoPath, wechattest.Fault{Reset: true}),
		want: map[string]outcome{envInfo: {ok: true, attempts: 2}}, status: 200},
	{name: "connection reset every time", inject: always(wechat.GetEnvInfoPath, wechattest.Fault{Reset: true}),
		want: map[string]outcome{envInfo: {kind: "network", retryable: true, attempts: 3}}, status: 502},
	{name: "hung server, per-attempt timeout", vars: env{"WECHAT_TIMEOUT": "200ms"},
		inject: always(wechat.DescribeCloudBaseRunEnvsPath, wechattest.Fault{Hang: true}),
		want:   map[string]outcome{runEnvs: {kind: "timeout", retryable: true, attempts: 3}}, status: 504},
	{name: "hung server, cut off before the deadline", vars: env{"WECHAT_TIMEOUT": "30s"}, deadline: 1500 * time.Millisecond,
		inject: always(wechat.GetEnvInfoPath, wechattest.Fault{Hang: true}),
		want:   map[string]outcome{envInfo: {kind: "timeout", retryable: true, attempts: 1}}, status: 504},
	{name: "malformed JSON", inject: always(wechat.GetEnvInfoPath, wechattest.Fault{Body: []byte(`{"errcode":0,"errmsg":"ok","info_list":[{"env":}]}`)}),
		want: map[string]outcome{envInfo: {kind: "bad_response", attempts: 1}}, status: 502},
	{name: "truncated JSON", inject: func(srv *wechattest.Server) {
		a := wechattest.RunEnvsAnswer()
		srv.Always(wechat.DescribeCloudBaseRunEnvsPath, wechattest.Fault{Body: a[:len(a)/2]})
	}, want: map[string]outcome{runEnvs: {kind: "bad_response", attempts: 1}}, status: 502},
	{name: "list of the wrong shape", inject: always(wechat.DescribeCloudBaseRunEnvsPath, wechattest.Fault{Body: []byte(`{"errcode":0,"errmsg":"ok","env_list":{"env_id":"a"}}`)}),
		want: map[string]outcome{runEnvs: {kind: "bad_response", attempts: 1}}, status: 502},
	{name: "64 MiB answer, streamed", vars: env{"WECHAT_MAX_RESPONSE_BYTES": "1048576"},
		inject: always(wechat.DescribeCloudBaseRunEnvsPath, wechattest.Fault{Oversize: 64 << 20}),
		want:   map[string]outcome{runEnvs: {kind: "bad_response", attempts: 1}}, status: 502,
		maxWritten: 16 << 20},
	{name: "64 MiB answer, declared", vars: env{"WECHAT_MAX_RESPONSE_BYTES": "1048576"},
		inject: always(wechat.DescribeCloudBaseRunEnvsPath, wechattest.Fault{Oversize: 64 << 20, DeclareLength: true}),
		want:   map[string]outcome{runEnvs: {kind: "bad_response", attempts: 1}}, status: 502,
		maxWritten: 16 << 20},
	{name: "40001 on a static token", inject: always(wechat.GetEnvInfoPath, wechattest.Fault{ErrCode: 40001}),
		want: map[string]outcome{envInfo: {kind: "auth", errcode: 40001, attempts: 1}}, status: 502},
	{name: "42001 on a static token", inject: always(wechat.DescribeCloudBaseRunEnvsPath, wechattest.Fault{ErrCode: 42001}),
		want: map[string]outcome{runEnvs: {kind: "auth", errcode: 42001, attempts: 1}}, status: 502},
	{name: "minted tokens revoked (40001), minted anew", minted: true, warm: true, after: (*wechattest.Server).RevokeTokens,
		want: map[string]outcome{envInfo: {ok: true, attempts: 2}, runEnvs: {ok: true, attempts: 2, orAttempts: 1}}, status: 200},
	{name: "minted tokens expired (42001), minted anew", minted: true, warm: true, after: (*wechattest.Server).ExpireTokens,
		want: map[string]outcome{envInfo: {ok: true, attempts: 2}, runEnvs: {ok: true, attempts: 2, orAttempts: 1}}, status: 200},
	{name: "40001 on a minted token every time", minted: true, inject: always(wechat.GetEnvInfoPath, wechattest.Fault{ErrCode: 40001}),
		want: map[string]outcome{envInfo: {kind: "auth", errcode: 40001, attempts: 2}}, status: 502},
	{name: "42001 on a minted token every time", minted: true, inject: always(wechat.DescribeCloudBaseRunEnvsPath, wechattest.Fault{ErrCode: 42001}),
		want: map[string]outcome{runEnvs: {kind: "auth", errcode: 42001, attempts: 2}}, status: 502},
	{name: "45009 daily quota", inject: always(wechat.GetEnvInfoPath, wechattest.Fault{ErrCode: 45009}),
		want: map[string]outcome{envInfo: {kind: "rate_limit", errcode: 45009, attempts: 1}}, status: 502},
	{name: "48001 api unauthorized", inject: always(wechat.GetEnvInfoPath, wechattest.Fault{ErrCode: 48001}),
		want: map[string]outcome{envInfo: {kind: "permission", errcode: 48001, attempts: 1}}, status: 502},
	{name: "61004 IP not allowed", inject: always(wechat.DescribeCloudBaseRunEnvsPath, wechattest.Fault{ErrCode: 61004}),
		want: map[string]outcome{runEnvs: {kind: "permission", errcode: 61004, attempts: 1}}, status: 502},
	{name: "85088 no cloud development privilege", inject: always(wechat.GetEnvInfoPath, wechattest.Fault{ErrCode: 85088}),
		want: map[string]outcome{envInfo: {kind: "permission", errcode: 85088, attempts: 1}}, status: 502},
	{name: "both operations failing differently", inject: func(srv *wechattest.Server) {
		srv.Always(wechat.GetEnvInfoPath, wechattest.Fault{ErrCode: 45009})
		srv.Always(wechat.DescribeCloudBaseRunEnvsPath, wechattest.Fault{ErrCode: 61004})
	}, want: map[string]outcome{envInfo: {kind: "rate_limit", errcode: 45009, attempts: 1}, runEnvs: {kind: "permission", errcode: 61004, attempts: 1}}, status: 502},
}

// httpAll is an HTTP API (v2) request for both operations.
const httpAll = `{"version":"2.0","rawPath":"/envs","rawQueryString":"","headers":{},"requestContext":{"http":{"method":"GET","path":"/envs"}},"isBase64Encoded":false}`

// TestFaultMatrix runs every row through a direct invocation and an HTTP
// request against a fresh fake WeChat, and checks each operation's kind,
// retryability, attempts and HTTP status, that the other operation's
// answer is intact, that the invocation ends before its deadline, that no
// credential shows anywhere, and that no goroutine is left behind.
func TestFaultMatrix(t *testing.T) {
	intact := map[string][]byte{envInfo: wechattest.EnvInfoAnswer(), runEnvs: wechattest.RunEnvsAnswer()}
	for _, row := range faultMatrix {
		for _, trigger := range []string{"direct", "http"} {
			t.Run(row.name+"/"+trigger, func(t *testing.T) {
				before := runtime.NumGoroutine()
				srv := wechattest.NewServer()
				hs := newHarness(t, srv, row.env(srv, t))
				if row.warm {
					if _, err := hs.invoke(t, []byte(`{}`), 5*time.Second); err != nil {
						t.Fatalf("warm-up: %v", err)
					}
				}
				if row.after != nil {
					row.after(srv)
				}
				if row.inject != nil {
					row.inject(srv)
				}
				deadline := row.deadline
				if deadline == 0 {
					deadline = 5 * time.Second
				}
				payload := []byte(`{}`)
				if trigger == "http" {
					payload = []byte(httpAll)
				}
				start := time.Now()
				out, err := hs.invoke(t, payload, deadline)
				if elapsed := time.Since(start); elapsed >= deadline {
					t.Errorf("the invocation took %v, past its %v deadline", elapsed, deadline)
				}
				if err != nil {
					t.Fatalf("invocation failed: %v", err)
				}
				d := decode(t, out)
				if trigger == "http" && d.status != row.status {
					t.Errorf("HTTP status = %d, want %d", d.status, row.status)
				}
				results, _ := d.body["results"].(map[string]any)
				for _, op := range []string{envInfo, runEnvs} {
					want, faulted := row.want[op]
					if !faulted {
						want = outcome{ok: true, attempts: 1}
					}
					checkOutcome(t, op, results[op], want)
					if want.ok {
						checkIntact(t, op, out, intact[op])
					}
				}
				if row.maxWritten > 0 {
					if w := srv.BytesWritten(wechat.DescribeCloudBaseRunEnvsPath); w > row.maxWritten {
						t.Errorf("the server wrote %d bytes of the oversized answer, want at most %d: the answer was not cut off", w, row.maxWritten)
					}
				}
				checkNoCredential(t, string(out)+"\n"+hs.log.String())

				hs.h.Runtimes.HTTPClient.CloseIdleConnections()
				srv.Close()
				checkNoLeak(t, before)
			})
		}
	}
}

// env is the row's configuration for srv.
func (row faultRow) env(srv *wechattest.Server, t *testing.T) env {
	e := staticEnv(srv)
	if row.minted {
		e = mintEnv(srv)
	}
	e["WECHAT_RETRIES"] = "2"
	e["WECHAT_TIMEOUT"] = "2s"
	var bases []string
	for range row.dead {
		bases = append(bases, testkit.ClosedURL(t))
	}
	if !row.onlyDead {
		bases = append(bases, srv.URL)
	}
	e["WECHAT_API_BASE_URL"] = strings.Join(bases, ",")
	for k, v := range row.vars {
		e[k] = v
	}
	return e
}

func checkOutcome(t *testing.T, op string, v any, want outcome) {
	t.Helper()
	r, ok := v.(map[string]any)
	if !ok {
		t.Errorf("%s: no result", op)
		return
	}
	got := outcome{ok: r["ok"] == true, attempts: int(num(r["attempts"]))}
	if e, ok := r["error"].(map[string]any); ok {
		got.kind, _ = e["kind"].(string)
		got.errcode = int(num(e["errcode"]))
		got.retryable = e["retryable"] == true
		got.httpStatus = int(num(e["http_status"]))
		if msg, _ := e["message"].(string); msg == "" {
			t.Errorf("%s: the error has no message", op)
		}
	}
	if want.orAttempts != 0 && got.attempts == want.orAttempts {
		got.attempts = want.attempts
	}
	got.orAttempts = want.orAttempts
	if got != want {
		t.Errorf("%s = %+v, want %+v\nresult: %v", op, got, want, r)
	}
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

// checkIntact checks that op's answer is embedded byte for byte.
func checkIntact(t *testing.T, op string, out, answer []byte) {
	t.Helper()
	body := out
	var wrapped struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if json.Unmarshal(out, &wrapped) == nil && wrapped.StatusCode != 0 {
		body = []byte(wrapped.Body)
	}
	var ev struct {
		Results map[string]struct {
			Response json.RawMessage `json:"response"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatalf("event is not JSON: %v", err)
	}
	if got := ev.Results[op].Response; !bytes.Equal(got, answer) {
		t.Errorf("%s: the answer is not intact: got %d bytes, want %d", op, len(got), len(answer))
	}
}

// credentials are the fake WeChat's secrets and the prefix of its minted
// tokens; none may appear in an answer or a log line.
var credentials = []string{wechattest.AccessToken, wechattest.ComponentAccessToken, wechattest.AppSecret,
	wechattest.ComponentAppSecret, wechattest.VerifyTicket, wechattest.AuthorizerRefreshToken,
	"wechattest-access-token-", "wechattest-component-token-", "wechattest-authorizer-token-"}

func checkNoCredential(t *testing.T, s string) {
	t.Helper()
	for _, c := range credentials {
		if strings.Contains(s, c) {
			t.Errorf("a credential (%.16s…) shows in the answer or the log", c)
		}
	}
}

// checkNoLeak waits for the goroutines started by a test to end, and
// prints those that do not.
func checkNoLeak(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			var b strings.Builder
			pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Errorf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), b.String())
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
