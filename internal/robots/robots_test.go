package robots_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/notify"
	"github.com/wxcloudenv/wxcloudenv/internal/robots"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
)

const (
	wecomURL    = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=robots-test-wecom-key-0001"
	dingtalkURL = "https://oapi.dingtalk.com/robot/send?access_token=robots-test-dingtalk-token-0002"
	feishuURL   = "https://open.feishu.cn/open-apis/bot/v2/hook/robots-test-feishu-hook-0003"
)

// secretsOf are the robot keys the tests' URLs carry: never in an error.
var secretsOf = []string{"robots-test-wecom-key-0001", "robots-test-dingtalk-token-0002", "robots-test-feishu-hook-0003"}

func TestParse(t *testing.T) {
	t.Parallel()
	ok := []struct {
		name, body string
		kinds      []notify.Kind
	}{
		{"one", `{"urls":["` + wecomURL + `"]}`, []notify.Kind{notify.WeCom}},
		{"three kinds", `{"urls":["` + wecomURL + `","` + dingtalkURL + `"," ` + feishuURL + ` "]}`, []notify.Kind{notify.WeCom, notify.DingTalk, notify.Feishu}},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			urls, chans, err := robots.Parse([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if len(urls) != len(c.kinds) || len(chans) != len(c.kinds) {
				t.Fatalf("got %d urls %d channels", len(urls), len(chans))
			}
			for i, k := range c.kinds {
				if chans[i].Kind != k || strings.TrimSpace(urls[i]) != urls[i] {
					t.Errorf("entry %d: %v %q", i, chans[i], urls[i])
				}
			}
		})
	}
	six := make([]string, robots.MaxURLs+1)
	for i := range six {
		six[i] = fmt.Sprintf(`"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k%d-robots-test"`, i)
	}
	bad := []struct {
		name, body, field string
	}{
		{"not JSON", `{"urls":`, "body"},
		{"a list", `["` + wecomURL + `"]`, "body"},
		{"two values", `{"urls":["` + wecomURL + `"]} {}`, "body"},
		{"unknown field", `{"urls":["` + wecomURL + `"],"secret":"x"}`, "secret"},
		{"a URL as a field", `{"` + wecomURL + `":1}`, "body"},
		{"no urls", `{}`, "urls"},
		{"null urls", `{"urls":null}`, "urls"},
		{"empty urls", `{"urls":[]}`, "urls"},
		{"urls a string", `{"urls":"` + wecomURL + `"}`, "urls"},
		{"urls of numbers", `{"urls":[1]}`, "urls"},
		{"too many", `{"urls":[` + strings.Join(six, ",") + `]}`, "urls"},
		{"not a robot", `{"urls":["https://example.com/hook?key=robots-test-wecom-key-0001"]}`, "urls[0]"},
		{"no key", `{"urls":["` + wecomURL + `","https://qyapi.weixin.qq.com/cgi-bin/webhook/send"]}`, "urls[1]"},
		{"ftp", `{"urls":["ftp://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=robots-test-wecom-key-0001"]}`, "urls[0]"},
		{"user info", `{"urls":["https://u:robots-test-wecom-key-0001@qyapi.weixin.qq.com/cgi-bin/webhook/send?key=robots-test-wecom-key-0001"]}`, "urls[0]"},
		{"empty string", `{"urls":[""]}`, "urls[0]"},
		{"twice", `{"urls":["` + wecomURL + `","` + wecomURL + `"]}`, "urls[1]"},
		{"too long", `{"urls":["` + wecomURL + "&pad=" + strings.Repeat("x", robots.MaxURLBytes) + `"]}`, "urls[0]"},
		{"bad escape", `{"urls":["https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=robots-test-wecom-key-0001%zz"]}`, "urls[0]"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := robots.Parse([]byte(c.body))
			var fe *robots.FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Fatalf("error %v, want a FieldError naming %q", err, c.field)
			}
			for _, s := range secretsOf {
				if strings.Contains(err.Error(), s) {
					t.Errorf("the error quotes a robot key: %v", err)
				}
			}
		})
	}
}

func TestValidAppID(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{"wx0123456789abcdef": true, "a_B9": true, "": false, "wx/1": false, "wx 1": false,
		strings.Repeat("a", 64): true, strings.Repeat("a", 65): false, "wx%2F": false, "wxé": false} {
		if got := robots.ValidAppID(s); got != want {
			t.Errorf("ValidAppID(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	_, chans, err := robots.Parse([]byte(`{"urls":["` + wecomURL + `","` + feishuURL + `"]}`))
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%+v", robots.Describe(chans))
	if got != "[{Kind:wecom Host:qyapi.weixin.qq.com} {Kind:feishu Host:open.feishu.cn}]" {
		t.Errorf("Describe = %s", got)
	}
}

// backends opens every store kind; Redis and DynamoDB give each instance a
// client of its own.
func backends(t *testing.T) []struct {
	name      string
	instances func(t *testing.T, n int) []store.Store
} {
	redisURL := storetest.StartRedis(t)
	dynURL, dynEnv := storetest.StartDynamo(t)
	open := func(t *testing.T, url string, opts ...store.Option) store.Store {
		s, err := store.Open(url, opts...)
		if err != nil {
			t.Fatalf("Open(%q): %v", url, err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	repeat := func(s store.Store, n int) []store.Store {
		out := make([]store.Store, n)
		for i := range out {
			out[i] = s
		}
		return out
	}
	return []struct {
		name      string
		instances func(t *testing.T, n int) []store.Store
	}{
		{"memory", func(t *testing.T, n int) []store.Store { return repeat(open(t, "memory"), n) }},
		{"file", func(t *testing.T, n int) []store.Store {
			return repeat(open(t, "file://"+filepath.ToSlash(filepath.Join(t.TempDir(), "store.db"))), n)
		}},
		{"redis", func(t *testing.T, n int) []store.Store {
			var out []store.Store
			for range n {
				out = append(out, open(t, redisURL))
			}
			return out
		}},
		{"dynamodb", func(t *testing.T, n int) []store.Store {
			var out []store.Store
			for range n {
				out = append(out, open(t, dynURL, store.WithEnv(storetest.Lookup(dynEnv))))
			}
			return out
		}},
	}
}

// TestRegistryOnEveryBackend: put, get, load and delete on every store;
// four instances putting 200 authorizers' robots at once (many sharing a
// shard) lose none, and deleting half at once leaves exactly the others.
func TestRegistryOnEveryBackend(t *testing.T) {
	t.Parallel()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			sts := b.instances(t, 4)
			prefix := "wxcloudenv-robots-" + b.name + ":"
			urls, _, err := robots.Parse([]byte(`{"urls":["` + wecomURL + `","` + dingtalkURL + `"]}`))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := robots.Get(ctx, sts[0], prefix, "wxnone"); err != nil || len(got) != 0 {
				t.Fatalf("Get of none = %v, %v", got, err)
			}
			if err := robots.Put(ctx, sts[0], prefix, "wxowner1", urls); err != nil {
				t.Fatal(err)
			}
			got, err := robots.Get(ctx, sts[1], prefix, "wxowner1")
			if err != nil || len(got) != 2 || got[0].Kind != notify.WeCom || got[1].Kind != notify.DingTalk {
				t.Fatalf("Get = %v, %v", got, err)
			}
			// A second PUT replaces.
			if err := robots.Put(ctx, sts[1], prefix, "wxowner1", urls[1:]); err != nil {
				t.Fatal(err)
			}
			if got, _ := robots.Get(ctx, sts[2], prefix, "wxowner1"); len(got) != 1 || got[0].Kind != notify.DingTalk {
				t.Fatalf("after replacing: %v", got)
			}

			const n = 200
			var wg sync.WaitGroup
			errs := make(chan error, n)
			// Eight writers at a time over four instances: contention on
			// shared shards without a loaded machine timing the server out.
			sem := make(chan struct{}, 8)
			for i := range n {
				wg.Go(func() {
					sem <- struct{}{}
					defer func() { <-sem }()
					u := fmt.Sprintf("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=robots-test-%03d", i)
					errs <- robots.Put(ctx, sts[i%len(sts)], prefix, fmt.Sprintf("wxmany%03d", i), []string{u})
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			owners, err := robots.Load(ctx, sts[3], prefix)
			if err != nil || len(owners) != n+1 {
				t.Fatalf("Load: %d owners, %v; want %d", len(owners), err, n+1)
			}
			for i := range n {
				wg.Go(func() {
					sem <- struct{}{}
					defer func() { <-sem }()
					if i%2 == 0 {
						if err := robots.Delete(ctx, sts[i%len(sts)], prefix, fmt.Sprintf("wxmany%03d", i)); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			owners, err = robots.Load(ctx, sts[0], prefix)
			if err != nil || len(owners) != n/2+1 {
				t.Fatalf("Load after deletes: %d owners, %v; want %d", len(owners), err, n/2+1)
			}
			for _, o := range owners {
				var i int
				if _, err := fmt.Sscanf(o.Authorizer, "wxmany%03d", &i); err == nil && (i%2 == 0 || len(o.Channels) != 1) {
					t.Errorf("%s: %v", o.Authorizer, o.Channels)
				}
			}
			if err := robots.Delete(ctx, sts[0], prefix, "wxowner1"); err != nil {
				t.Fatal(err)
			}
			if err := robots.Delete(ctx, sts[0], prefix, "wxowner1"); err != nil {
				t.Fatalf("deleting none: %v", err)
			}
			if got, _ := robots.Get(ctx, sts[0], prefix, "wxowner1"); len(got) != 0 {
				t.Errorf("after DELETE: %v", got)
			}
		})
	}
}

// TestShardFull: a shard at MaxShardBytes refuses more, and changes
// nothing; deleting from it still works.
func TestShardFull(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := store.NewMemory()
	long := "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + strings.Repeat("k", 400)
	var first error
	put := 0
	target := robots.ShardOf("p:", "wxfull000000")
	for i := 0; put < 10_000; i++ {
		// Only appids that share one shard.
		appid := fmt.Sprintf("wxfull%06d", i)
		if robots.ShardOf("p:", appid) != target {
			continue
		}
		err := robots.Put(ctx, st, "p:", appid, []string{long, long + "2", long + "3", long + "4", long + "5"})
		if err != nil {
			first = err
			break
		}
		put++
	}
	if !errors.Is(first, robots.ErrFull) {
		t.Fatalf("after %d authorizers: %v, want ErrFull", put, first)
	}
	owners, err := robots.Load(ctx, st, "p:")
	if err != nil || len(owners) != put {
		t.Fatalf("Load: %d, %v; want %d (the refused one not kept)", len(owners), err, put)
	}
	if err := robots.Delete(ctx, st, "p:", owners[0].Authorizer); err != nil {
		t.Errorf("deleting from a full shard: %v", err)
	}
}
