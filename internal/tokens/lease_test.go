package tokens_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/tokens"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// TestDeadLeaseTakenOver: a lease left by an instance that died expires,
// and a waiting instance then mints.
func TestDeadLeaseTakenOver(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	st := store.NewMemory()
	keys := tokens.Keys{Prefix: tokens.DefaultPrefix}
	lease := keys.Lease(keys.StableToken(wechattest.AppID))
	if err := st.Set(t.Context(), lease, store.Value{Data: []byte("dead-instance/1"), Expires: time.Now().Add(100 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	tok, err := keeper(t, st, c).Stable(wechattest.AppID, wechattest.AppSecret).Token(t.Context())
	if err != nil || tok == nil {
		t.Fatalf("Token behind a dead lease: %v", err)
	}
	if srv.Calls(wechat.StableTokenPath) != 1 {
		t.Errorf("mints %d, want 1", srv.Calls(wechat.StableTokenPath))
	}
}

// TestWaitingForLeaseEndsWithContext: while another instance holds the
// lease and stores nothing, a caller waits until its own context ends and
// then fails with kind timeout, having minted nothing.
func TestWaitingForLeaseEndsWithContext(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	st := store.NewMemory()
	keys := tokens.Keys{Prefix: tokens.DefaultPrefix}
	lease := keys.Lease(keys.StableToken(wechattest.AppID))
	if err := st.Set(t.Context(), lease, store.Value{Data: []byte("busy-instance/1"), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := keeper(t, st, c).Stable(wechattest.AppID, wechattest.AppSecret).Token(ctx)
	if !errors.Is(err, wechat.ErrTimeout) {
		t.Errorf("Token = %v, want timeout", err)
	}
	if srv.Calls(wechat.StableTokenPath) != 0 {
		t.Errorf("minted %d times while another instance held the lease", srv.Calls(wechat.StableTokenPath))
	}
}

// TestCallerTakesOverAfterLeaderDeadline: in one instance, a caller whose
// context ends during its mint does not fail another caller that waited
// with time left: that one mints.
func TestCallerTakesOverAfterLeaderDeadline(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	srv.Inject(wechat.StableTokenPath, wechattest.Fault{Hang: true})
	src := keeper(t, store.NewMemory(), c).Stable(wechattest.AppID, wechattest.AppSecret)
	leaderCtx, cancel := context.WithCancel(t.Context())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := src.Token(leaderCtx)
		leaderErr <- err
	}()
	for srv.Calls(wechat.StableTokenPath) == 0 {
		time.Sleep(time.Millisecond)
	}
	followerErr := make(chan error, 1)
	go func() {
		_, err := src.Token(t.Context())
		followerErr <- err
	}()
	cancel()
	if err := <-leaderErr; err == nil {
		t.Error("the cancelled caller got a token")
	}
	if err := <-followerErr; err != nil {
		t.Errorf("the caller with time left failed: %v", err)
	}
	if srv.Calls(wechat.StableTokenPath) != 2 {
		t.Errorf("mints %d, want 2", srv.Calls(wechat.StableTokenPath))
	}
}
