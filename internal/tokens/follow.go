package tokens

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// followTTL is how long a foreign token whose key has no TTL is used from
// memory before the key is read again.
const followTTL = time.Minute

// followSource reads a token another service keeps, and never mints.
type followSource struct {
	k *Keeper
	s *slot
}

// follow returns the source that reads key of the foreign layout.
func (k *Keeper) follow(key, op string) wechat.TokenSource {
	return &followSource{k: k, s: k.slotFor(key, op)}
}

// Token returns the token under the foreign key. After WeChat rejected
// the last one, it waits RereadWait first, since the other service may be
// rotating it.
func (f *followSource) Token(ctx context.Context) (*wechat.Token, error) {
	s := f.s
	now := f.k.now()
	s.mu.Lock()
	if s.tok != "" && now.Unix() < int64(s.due) {
		tok := s.token()
		s.mu.Unlock()
		return tok, nil
	}
	// The rejected value stays marked until the key holds another: every
	// caller (an operation, the quota reader, a name lookup) that comes
	// after a rejection sees it, not just the first.
	rejected := s.rejectedValue()
	s.mu.Unlock()
	if rejected != "" {
		t := time.NewTimer(f.k.reread)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, &wechat.Error{Kind: wechat.KindTimeout, Op: s.op(), Retryable: true,
				Message: "gave up waiting to re-read " + s.key(), Err: ctx.Err()}
		}
	}
	pg, ok := f.k.st.(store.PlainGetter)
	if !ok {
		return nil, &wechat.Error{Kind: wechat.KindConfig, Op: s.op(),
			Message: fmt.Sprintf("the %s layout needs a redis:// or rediss:// store", f.k.layout)}
	}
	v, err := pg.GetPlain(ctx, s.key())
	now = f.k.now()
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && (len(v.Data) == 0 || !v.Live(now))):
		return nil, &wechat.Error{Kind: wechat.KindAuth, Op: s.op(),
			Message: fmt.Sprintf("the key %q is missing or expired in the store; %s should keep it (this function never mints with the %s layout)",
				s.key(), f.k.foreign.service(), f.k.layout)}
	case err != nil:
		return nil, f.k.storeError(s.op(), "read "+s.key(), err)
	}
	value := string(v.Data)
	if value == rejected {
		return nil, &wechat.Error{Kind: wechat.KindAuth, Op: s.op(),
			Message: fmt.Sprintf("WeChat rejected the token under the key %q and %s has not replaced it",
				s.key(), f.k.foreign.service())}
	}
	// Minted tells the client that this source can replace the token: a
	// rejection then leads to one re-read, never to a mint.
	tok := wechat.NewToken(value, v.Expires)
	due := v.Expires
	if due.IsZero() {
		due = now.Add(followTTL)
	}
	s.mu.Lock()
	if s.rejectedValue() == rejected {
		s.setRejected("")
	}
	s.mu.Unlock()
	s.set(tok, due)
	return tok, nil
}

// Invalidate drops tok, which WeChat rejected, so that the next Token call
// re-reads the key after a short wait. The key itself is never touched.
func (f *followSource) Invalidate(tok *wechat.Token) {
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok == nil || !s.drop(tok.Value.Reveal()) {
		return
	}
	s.setRejected(tok.Value.Reveal())
}
