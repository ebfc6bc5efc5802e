package store_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
	"github.com/wxcloudenv/wxcloudenv/test/testkit"
)

func TestOpenBadURL(t *testing.T) {
	t.Parallel()
	awsEnv := storetest.Lookup(map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "sk"})
	for _, tc := range []struct {
		name, url, wantText, password string
		env                           map[string]string
	}{
		{name: "malformed", url: "redis://u:hunter2pw@127.0.0.1:notaport/0", wantText: "malformed URL", password: "hunter2pw"},
		{name: "malformed escape", url: "redis://u:hunter%zz2@h:1", wantText: "malformed URL", password: "hunter%zz2"},
		{name: "no scheme", url: "127.0.0.1:6379", wantText: "malformed URL"},
		{name: "no scheme path", url: "/var/lib/store.db", wantText: "no scheme"},
		{name: "unknown scheme", url: "mysql://root:topsecret9@db/x", wantText: `unknown scheme "mysql"`, password: "topsecret9"},
		{name: "relative file", url: "file://relative/path.db", wantText: "three slashes"},
		{name: "opaque file", url: "file:store.db", wantText: "absolute"},
		{name: "file directory", url: "file:///tmp/dir/", wantText: "directory"},
		{name: "file empty path", url: "file://", wantText: "absolute"},
		{name: "file user info", url: "file://u:filepw99@/tmp/x.db", wantText: "user info", password: "filepw99"},
		{name: "dynamodb no table", url: "dynamodb://", wantText: "TABLE"},
		{name: "dynamodb path", url: "dynamodb://table/extra", wantText: "TABLE"},
		{name: "dynamodb no region", url: "dynamodb://t", wantText: "AWS_REGION", env: map[string]string{}},
		{name: "dynamodb no credentials", url: "dynamodb://t", wantText: "AWS_ACCESS_KEY_ID", env: map[string]string{"AWS_REGION": "eu-west-1"}},
		{name: "redis bad db", url: "redis://:pw-in-db-url@127.0.0.1:6379/notanumber", wantText: "bad redis URL", password: "pw-in-db-url"},
		{name: "redis unknown option", url: "redis://:pw-opt-1@127.0.0.1:6379/0?pool=3", wantText: `unknown option "pool"`, password: "pw-opt-1"},
		{name: "redis bad timeout", url: "redis://:pw-opt-2@127.0.0.1:6379/0?read_timeout=soon", wantText: "read_timeout", password: "pw-opt-2"},
		{name: "redis pool size", url: "redis://:pw-opt-3@127.0.0.1:6379/0?pool_size=0", wantText: "pool_size", password: "pw-opt-3"},
		{name: "redis option holds password", url: "redis://:pw-opt-4@127.0.0.1:6379/0?db=pw-opt-4", wantText: "db=", password: "pw-opt-4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := []store.Option{store.WithEnv(awsEnv)}
			if tc.env != nil {
				opts = []store.Option{store.WithEnv(storetest.Lookup(tc.env))}
			}
			s, err := store.Open(tc.url, opts...)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) = nil error, want one", tc.url)
			}
			msg := err.Error()
			if !strings.Contains(msg, store.EnvStore) || !strings.Contains(msg, tc.wantText) {
				t.Errorf("Open(%q) = %q, want it to name %s and say %q", tc.url, msg, store.EnvStore, tc.wantText)
			}
			if tc.password != "" && strings.Contains(msg, tc.password) {
				t.Errorf("Open(%q) = %q: shows the password", tc.url, msg)
			}
		})
	}
}

func TestOpenGoodURL(t *testing.T) {
	t.Parallel()
	env := storetest.Lookup(map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "sk"})
	for _, tc := range []struct{ url, wantType string }{
		{"", "*store.Memory"},
		{"memory", "*store.Memory"},
		{" memory ", "*store.Memory"},
		{"file:///tmp/x/store.db", "*store.File"},
		{"file://localhost/tmp/x/store.db", "*store.File"},
		{"redis://127.0.0.1:6379", "*store.Redis"},
		{"redis://user:pw@127.0.0.1:6379/3", "*store.Redis"},
		{"rediss://:pw@cache.example:6380/0", "*store.Redis"},
		{"redis://cache/2?dial_timeout=2s&read_timeout=1&write_timeout=500ms&pool_size=8", "*store.Redis"},
		{"dynamodb://wxcloudenv-state", "*store.Dynamo"},
	} {
		s, err := store.Open(tc.url, store.WithEnv(env))
		if err != nil {
			t.Errorf("Open(%q) = %v", tc.url, err)
			continue
		}
		if got := typeName(s); got != tc.wantType {
			t.Errorf("Open(%q) = %s, want %s", tc.url, got, tc.wantType)
		}
		s.Close()
	}
}

func typeName(s store.Store) string {
	switch s.(type) {
	case *store.Memory:
		return "*store.Memory"
	case *store.File:
		return "*store.File"
	case *store.Redis:
		return "*store.Redis"
	case *store.Dynamo:
		return "*store.Dynamo"
	}
	return "unknown"
}

func TestRedactedAndSecrets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url, redacted string
		secrets       []string
	}{
		{"memory", "memory", nil},
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0", nil},
		{"redis://:s3cret@127.0.0.1:6379/0", "redis://:xxxxx@127.0.0.1:6379/0", []string{"s3cret"}},
		{"rediss://app:p%40ss@cache:6380", "rediss://app:xxxxx@cache:6380", []string{"p@ss", "p%40ss"}},
		{"a#b://:pw-in-fragment@h/0", "(unparseable)", []string{"pw-in-fragment"}},
		{"redis://app@cache:6379", "redis://app@cache:6379", nil},
		{"redis://u:hunter2pw@127.0.0.1:notaport/0", "redis://(unparseable)", []string{"hunter2pw"}},
		{"redis://u:a%zzb@h/0", "redis://(unparseable)", []string{"a%zzb"}},
		{"file:///var/lib/wx/store.db", "file:///var/lib/wx/store.db", nil},
		{"::", "(unparseable)", nil},
		{"file:store.db", "file:store.db", nil},
		{"#://0:000000@! @/0", "(unparseable)", []string{"000000@! "}},
	} {
		if got := store.Redacted(tc.url); got != tc.redacted {
			t.Errorf("Redacted(%q) = %q, want %q", tc.url, got, tc.redacted)
		}
		if got := store.Secrets(tc.url); !slices.Equal(got, tc.secrets) {
			t.Errorf("Secrets(%q) = %q, want %q", tc.url, got, tc.secrets)
		}
	}
}

func TestSecretsDynamoDBCredentials(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-key-1")
	t.Setenv("AWS_SESSION_TOKEN", "aws-session-token-1")
	want := []string{"aws-secret-key-1", "aws-session-token-1"}
	if got := store.Secrets("dynamodb://t"); !slices.Equal(got, want) {
		t.Errorf("Secrets(dynamodb://t) = %q, want %q", got, want)
	}
	if got := store.Secrets("redis://h:1"); len(got) != 0 {
		t.Errorf("Secrets(redis://h:1) = %q, want none", got)
	}
}

// checkUnavailable calls every operation of s and checks each error wraps
// ErrUnavailable, names want and shows none of secrets.
func checkUnavailable(t *testing.T, s store.Store, want string, secrets ...string) {
	t.Helper()
	ctx := t.Context()
	v := store.Value{Data: []byte("v"), Expires: time.Now().Add(time.Hour)}
	_, errGet := s.Get(ctx, "wxcloudenv:k")
	_, errMany := s.GetMany(ctx, []string{"wxcloudenv:k"})
	errSet := s.Set(ctx, "wxcloudenv:k", v)
	_, errCAS := s.CompareAndSwap(ctx, "wxcloudenv:k", nil, v)
	_, errCAD := s.CompareAndDelete(ctx, "wxcloudenv:k", []byte("v"))
	errDel := s.Delete(ctx, "wxcloudenv:k")
	_, errKeys := s.Keys(ctx, "wxcloudenv:")
	for i, err := range []error{errGet, errMany, errSet, errCAS, errCAD, errDel, errKeys} {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("operation %d: error %v, want ErrUnavailable", i, err)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("operation %d: %q does not name %q", i, err, want)
		}
		for _, sec := range secrets {
			if strings.Contains(err.Error(), sec) {
				t.Errorf("operation %d: %q shows the secret %q", i, err, sec)
			}
		}
	}
}

func TestRedisUnreachableHidesPassword(t *testing.T) {
	t.Parallel()
	const pw = "redis-pw-9f3a"
	s, err := store.Open("redis://default:"+pw+"@"+"127.0.0.1:"+strconv.Itoa(testkit.FreePort(t))+"/0", store.WithTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkUnavailable(t, s, "redis 127.0.0.1:", pw)
}

func TestRedisWrongPasswordHidden(t *testing.T) {
	t.Parallel()
	const right, wrong = "right-pw-51c2", "wrong-pw-77ab"
	base := storetest.StartRedis(t, "--requirepass", right)
	addr := strings.TrimSuffix(strings.TrimPrefix(base, "redis://"), "/0")
	bad, err := store.Open("redis://:" + wrong + "@" + addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	checkUnavailable(t, bad, "redis "+addr, wrong, right)

	good, err := store.Open("redis://:" + right + "@" + addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if err := good.Set(t.Context(), "k", store.Value{Data: []byte("v")}); err != nil {
		t.Fatalf("Set with the right password = %v", err)
	}
}

func TestRedisTLSVerifiesCertificate(t *testing.T) {
	t.Parallel()
	const pw = "tls-pw-3e8d"
	url := storetest.StartRedisTLS(t)
	strict := strings.Replace(strings.TrimSuffix(url, "?skip_verify=true"), "rediss://", "rediss://:"+pw+"@", 1)
	s, err := store.Open(strict, store.WithTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The test certificate is trusted by nobody: every operation refuses it.
	checkUnavailable(t, s, "redis 127.0.0.1:", pw)
	_, err = s.Get(t.Context(), "k")
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Get() over TLS with an untrusted certificate = %q, want it to say certificate", err)
	}
}

func TestDynamoUnreachableHidesCredentials(t *testing.T) {
	t.Parallel()
	const secret, session = "aws-secret-6d1e", "aws-session-0c9b"
	env := map[string]string{
		"AWS_REGION":            "us-east-1",
		"AWS_ENDPOINT_URL":      "http://" + "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t)),
		"AWS_ACCESS_KEY_ID":     "AKIDTEST",
		"AWS_SECRET_ACCESS_KEY": secret,
		"AWS_SESSION_TOKEN":     session,
	}
	s, err := store.Open("dynamodb://state-table", store.WithEnv(storetest.Lookup(env)), store.WithTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	checkUnavailable(t, s, "dynamodb table state-table", secret, session)
}

func TestDynamoEndpointPrecedence(t *testing.T) {
	t.Parallel()
	url, env := storetest.StartDynamo(t)
	// AWS_ENDPOINT_URL_DYNAMODB wins over AWS_ENDPOINT_URL, which points
	// nowhere.
	env["AWS_ENDPOINT_URL"] = "http://" + "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	s, err := store.Open(url, store.WithEnv(storetest.Lookup(env)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(t.Context(), "k", store.Value{Data: []byte("v")}); err != nil {
		t.Fatalf("Set() = %v, want the AWS_ENDPOINT_URL_DYNAMODB server to answer", err)
	}
	// Without it, AWS_ENDPOINT_URL is used.
	env["AWS_ENDPOINT_URL"] = env["AWS_ENDPOINT_URL_DYNAMODB"]
	delete(env, "AWS_ENDPOINT_URL_DYNAMODB")
	s, err = store.Open(url, store.WithEnv(storetest.Lookup(env)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(t.Context(), "k"); err != nil {
		t.Fatalf("Get() through AWS_ENDPOINT_URL = %v", err)
	}
}

func TestFileUnavailable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A directory where the file should be: every operation fails.
	s, err := store.Open("file://" + dir)
	if err != nil {
		t.Fatal(err)
	}
	checkUnavailable(t, s, "file "+dir)
}

func TestRedisPlainAndForeignValues(t *testing.T) {
	t.Parallel()
	url := storetest.StartRedis(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	raw := redis.NewClient(opt)
	defer raw.Close()
	ctx := t.Context()
	// Written the way WxJava and silenceper/wechat write them.
	if err := raw.Set(ctx, "component_access_token_wx1", "plain-token", 7000*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	if err := raw.Set(ctx, "wechat_component_verify_ticket:wx1", "ticket@@@x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pg, ok := s.(store.PlainGetter)
	if !ok {
		t.Fatalf("%T does not implement PlainGetter", s)
	}
	before := time.Now()
	v, err := pg.GetPlain(ctx, "component_access_token_wx1")
	if err != nil || string(v.Data) != "plain-token" {
		t.Fatalf("GetPlain(token) = %q, %v", v.Data, err)
	}
	if !v.Expires.After(before) || v.Expires.After(time.Now().Add(7000*time.Second)) {
		t.Errorf("GetPlain(token).Expires = %v, want within the key's TTL of 7000s from now", v.Expires)
	}
	v, err = pg.GetPlain(ctx, "wechat_component_verify_ticket:wx1")
	if err != nil || string(v.Data) != "ticket@@@x" || !v.Expires.IsZero() {
		t.Errorf("GetPlain(ticket) = {%q %v}, %v; want no expiry", v.Data, v.Expires, err)
	}
	if _, err := pg.GetPlain(ctx, "absent"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetPlain(absent) = %v, want ErrNotFound", err)
	}
	// A plain value is not in the store's own format: the typed reads
	// refuse it instead of guessing.
	if _, err := s.Get(ctx, "component_access_token_wx1"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Get(plain) = %v, want ErrUnavailable", err)
	}
	if _, err := s.CompareAndSwap(ctx, "component_access_token_wx1", nil, store.Value{Data: []byte("x")}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("CompareAndSwap(plain) = %v, want ErrUnavailable", err)
	}
	// The key TTL follows the value's expiry.
	exp := time.Now().Add(time.Hour)
	if err := s.Set(ctx, "own", store.Value{Data: []byte("x"), Expires: exp}); err != nil {
		t.Fatal(err)
	}
	ttl, err := raw.PTTL(ctx, "own").Result()
	if err != nil || ttl <= 0 || ttl > time.Hour+time.Second {
		t.Errorf("PTTL(own) = %v, %v; want within an hour", ttl, err)
	}
	if err := s.Set(ctx, "forever", store.Value{Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if ttl, err := raw.PTTL(ctx, "forever").Result(); err != nil || ttl != -1 {
		t.Errorf("PTTL(forever) = %v, %v; want -1 (no TTL)", ttl, err)
	}
}

// TestRedisReconnectsAfterTheServerDropsConnections: connections the
// server closed while idle (a restart, a proxy, CLIENT KILL) are replaced
// on the next operation instead of failing it.
func TestRedisReconnectsAfterTheServerDropsConnections(t *testing.T) {
	t.Parallel()
	url := storetest.StartRedis(t)
	s, err := store.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	// Several idle connections in the pool.
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Set(ctx, "k"+strconv.Itoa(i), store.Value{Data: []byte("v")}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	raw := redis.NewClient(opt)
	defer raw.Close()
	for round := range 2 {
		if err := raw.Do(ctx, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").Err(); err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			if v, err := s.Get(ctx, "k"+strconv.Itoa(i)); err != nil || string(v.Data) != "v" {
				t.Fatalf("round %d: Get after the server dropped its connections = %q, %v", round, v.Data, err)
			}
		}
	}
}
