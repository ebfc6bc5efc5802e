package tokens_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/tokens"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// setup starts a fake WeChat server and a client for it.
func setup(t *testing.T) (*wechattest.Server, *wechat.Client) {
	t.Helper()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	c, err := wechat.NewClient(wechat.WithBaseURLs(srv.URL), wechat.WithBackoff(time.Millisecond, 5*time.Millisecond),
		wechat.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return srv, c
}

// keeper returns a Keeper over st with fast polling.
func keeper(t *testing.T, st store.Store, c *wechat.Client, mod ...func(*tokens.Options)) *tokens.Keeper {
	t.Helper()
	o := tokens.Options{Store: st, Client: c, Poll: time.Millisecond, LeaseTTL: 10 * time.Second, RereadWait: 20 * time.Millisecond}
	for _, m := range mod {
		m(&o)
	}
	k, err := tokens.New(o)
	if err != nil {
		t.Fatalf("tokens.New: %v", err)
	}
	return k
}

// counting wraps a store, counts its reads, and fails every call with an
// error wrapping store.ErrUnavailable while down is set.
type counting struct {
	store.Store
	down       atomic.Bool
	gets       atomic.Int64
	getManys   atomic.Int64
	plainReads atomic.Int64
	afterPlain func() // called after each GetPlain, when set
}

var errDown = fmt.Errorf("%w: dial tcp 127.0.0.1:6379: connection refused", store.ErrUnavailable)

func (s *counting) Get(ctx context.Context, key string) (store.Value, error) {
	s.gets.Add(1)
	if s.down.Load() {
		return store.Value{}, errDown
	}
	return s.Store.Get(ctx, key)
}

func (s *counting) GetMany(ctx context.Context, keys []string) (map[string]store.Value, error) {
	s.getManys.Add(1)
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.GetMany(ctx, keys)
}

func (s *counting) Set(ctx context.Context, key string, v store.Value) error {
	if s.down.Load() {
		return errDown
	}
	return s.Store.Set(ctx, key, v)
}

func (s *counting) CompareAndSwap(ctx context.Context, key string, old []byte, v store.Value) (bool, error) {
	if s.down.Load() {
		return false, errDown
	}
	return s.Store.CompareAndSwap(ctx, key, old, v)
}

func (s *counting) CompareAndDelete(ctx context.Context, key string, old []byte) (bool, error) {
	if s.down.Load() {
		return false, errDown
	}
	return s.Store.CompareAndDelete(ctx, key, old)
}

func (s *counting) Delete(ctx context.Context, key string) error {
	if s.down.Load() {
		return errDown
	}
	return s.Store.Delete(ctx, key)
}

func (s *counting) Keys(ctx context.Context, prefix string) ([]string, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.Keys(ctx, prefix)
}

// plainCounting is a counting store that also reads plain keys.
type plainCounting struct{ *counting }

func (s plainCounting) GetPlain(ctx context.Context, key string) (store.Value, error) {
	s.plainReads.Add(1)
	if s.down.Load() {
		return store.Value{}, errDown
	}
	v, err := s.Store.(store.PlainGetter).GetPlain(ctx, key)
	if s.afterPlain != nil {
		s.afterPlain()
	}
	return v, err
}

// secrets are the values no error text may hold.
var secrets = []string{wechattest.AppSecret, wechattest.ComponentAppSecret, wechattest.VerifyTicket,
	wechattest.AuthorizerRefreshToken, wechattest.AccessToken, wechattest.ComponentAccessToken, "wechattest-"}

// noSecret fails when err's text holds a secret or a minted token.
func noSecret(t *testing.T, err error, extra ...string) {
	t.Helper()
	if err == nil {
		return
	}
	text := err.Error()
	for _, s := range append(append([]string{}, secrets...), extra...) {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("error text %q holds a secret", text)
		}
	}
}

// concurrently runs n calls of f and waits for them.
func concurrently(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { f(i) })
	}
	wg.Wait()
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
