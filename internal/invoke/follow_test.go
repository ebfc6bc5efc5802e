package invoke_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// TestFollowedTokenRejected: with silenceper/wechat's Redis layout (its
// keys as its own code writes them: component_access_token_<appid>, a plain
// value with a TTL), a token WeChat keeps rejecting fails the operation
// with WeChat's errcode, errmsg and rid kept, and a message naming the key
// and its keeper, never minting advice: the layout never mints.
func TestFollowedTokenRejected(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	url := storetest.StartRedis(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	raw := redis.NewClient(opt)
	defer raw.Close()
	const revoked = "wechattest-revoked-followed-token"
	key := "component_access_token_" + wechattest.ComponentAppID
	if err := raw.Set(t.Context(), key, revoked, 7000*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	e := mintEnv(srv)
	e["WXCLOUDENV_STORE"] = url
	e["WXCLOUDENV_TOKEN_LAYOUT"] = "silenceper"
	hs := newHarness(t, srv, e)
	out, err := hs.invoke(t, []byte(`{"operations":["describecloudbaserunenvs"]}`), 20*time.Second)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	res := decode(t, out).body["results"].(map[string]any)["describecloudbaserunenvs"].(map[string]any)
	e2, _ := res["error"].(map[string]any)
	if e2 == nil {
		t.Fatalf("no error in %v", res)
	}
	if e2["kind"] != "auth" || e2["errcode"] != 40001.0 {
		t.Errorf("error = %v, want kind auth with WeChat's errcode 40001", e2)
	}
	if msg, _ := e2["errmsg"].(string); !strings.Contains(msg, "rid:") {
		t.Errorf("errmsg = %q, want WeChat's errmsg with its rid", msg)
	}
	if rid, _ := e2["rid"].(string); rid == "" {
		t.Errorf("no rid in %v", e2)
	}
	msg, _ := e2["message"].(string)
	if !strings.Contains(msg, key) || !strings.Contains(msg, "silenceper/wechat") {
		t.Errorf("message %q does not name the key %s and silenceper/wechat", msg, key)
	}
	for _, advice := range []string{"minting", "WECHAT_COMPONENT_APPSECRET", "ticket"} {
		if strings.Contains(msg, advice) {
			t.Errorf("message %q gives minting advice (%q) although the layout never mints", msg, advice)
		}
	}
	if strings.Contains(string(out), revoked) || strings.Contains(hs.log.String(), revoked) {
		t.Error("the rejected token shows in the answer or the log")
	}
}

// TestStoreErrorNamesBackendHostAndCause: when the shared store fails, the
// event's message names the backend, the host and the cause (a wrong
// password, a refused connection), never the password.
func TestStoreErrorNamesBackendHostAndCause(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	const password = "store-password-s3cr3t-0042"
	guarded := storetest.StartRedis(t, "--requirepass", "another-password")
	opt, err := redis.ParseURL(guarded)
	if err != nil {
		t.Fatal(err)
	}
	refused := "redis://:" + password + "@" + freeAddr(t) + "/0"
	tests := []struct {
		name, url, host, cause string
	}{
		{"wrong password", "redis://:" + password + "@" + opt.Addr + "/0", opt.Addr, "WRONGPASS"},
		{"refused", refused, strings.TrimSuffix(strings.TrimPrefix(refused, "redis://:"+password+"@"), "/0"), "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := mintEnv(srv)
			e["WXCLOUDENV_STORE"] = tt.url
			e["WECHAT_RETRIES"] = "0"
			hs := newHarness(t, srv, e)
			out, err := hs.invoke(t, []byte(`{"operations":["describecloudbaserunenvs"]}`), 20*time.Second)
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			res := decode(t, out).body["results"].(map[string]any)["describecloudbaserunenvs"].(map[string]any)
			e2, _ := res["error"].(map[string]any)
			msg, _ := e2["message"].(string)
			if e2["kind"] != "store" {
				t.Errorf("kind = %v, want store (%v)", e2["kind"], e2)
			}
			for _, want := range []string{"redis", tt.host, tt.cause, "WXCLOUDENV_STORE"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not name %q", msg, want)
				}
			}
			if strings.Contains(string(out), password) || strings.Contains(hs.log.String(), password) {
				t.Error("the store password shows in the answer or the log")
			}
		})
	}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
