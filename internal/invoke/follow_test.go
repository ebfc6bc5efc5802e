package invoke_test

import (
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
