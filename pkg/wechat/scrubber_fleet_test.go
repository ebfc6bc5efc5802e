package wechat_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// inProcess is a transport that hands each request to a handler in this
// process: the fake server without a connection, so that a day of fleet
// runs fits in a test.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// TestScrubberFleetDay runs 24 hours of scheduled fleet runs (a fake
// clock, a run every two hours: WeChat's token lifetime, so that every
// run mints) over 10,000 authorizers through the real client, with one
// scrubber held for the whole day as a warm process holds it. The
// scrubber's size stays bounded by the live tokens (an access and a
// refresh token per authorizer, and the configuration's few), flat from
// the first run to the last; and a minted token is scrubbed from every
// text, errors included, for as long as it is valid, and dropped once it
// has expired.
func TestScrubberFleetDay(t *testing.T) {
	t.Parallel()
	const (
		authorizers = 10000
		runEvery    = 2 * time.Hour
		day         = 24 * time.Hour
		workers     = 8
	)
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	ids := srv.SetFleet(authorizers)

	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	sc := wechat.NewScrubberClock(clock)
	c, err := wechat.NewClient(wechat.WithBaseURLs(srv.URL), wechat.WithHTTPClient(&http.Client{Transport: inProcess{srv.Handler()}}),
		wechat.WithScrubber(sc), wechat.WithClock(clock), wechat.WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	sc.Keep(wechattest.ComponentAppSecret) // the configuration's secrets, as the runtime keeps them
	comp := wechat.StaticTokenSource(wechattest.ComponentAccessToken)
	sources := make([]*wechat.CachedTokenSource, authorizers)
	for i, id := range ids {
		sources[i] = wechat.NewAuthorizerTokenSource(c, comp, wechattest.ComponentAppID, id, wechattest.RefreshTokenFor(id))
		wechat.SetClock(sources[i], clock)
	}

	// live bounds the scrubber: each authorizer's access and refresh
	// token, and three configured values: the component secret, the
	// component token and the access token the error checks use.
	const live = 2*authorizers + 3
	var first int
	var previous []string // each authorizer's token of the run before
	for start := now; !now.After(start.Add(day)); {
		tokens := make([]string, authorizers)
		var failed atomic.Int64
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < authorizers; i += workers {
					tok, err := sources[i].Token(t.Context())
					if err != nil {
						failed.Add(1)
						continue
					}
					tokens[i] = tok.Value.Reveal()
					if i%10 != 0 {
						continue // the call keeps the token the mint kept: a tenth suffices
					}
					if _, err := c.Raw(t.Context(), wechat.OpGetEnvInfo, sources[i], nil); err != nil {
						failed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if n := failed.Load(); n > 0 {
			t.Fatalf("%v: %d authorizers failed", now.Sub(start), n)
		}
		for i, tok := range tokens {
			if previous != nil && tok == previous[i] {
				t.Fatalf("%v: authorizer %d kept its token across a run: the run did not mint", now.Sub(start), i)
			}
		}

		size := sc.Len()
		if first == 0 {
			first = size
		}
		if size > live {
			t.Fatalf("%v: the scrubber keeps %d values, more than the %d live ones", now.Sub(start), size, live)
		}
		if size > first+2 {
			t.Fatalf("%v: the scrubber grew from %d to %d values", now.Sub(start), first, size)
		}

		// Every output: a text, and an error whose errmsg echoes the
		// token, for a sample of this run's tokens.
		for i := 0; i < authorizers; i += 997 {
			tok := tokens[i]
			if got := sc.Scrub("log: token " + tok + " in " + strings.ToUpper("x")); strings.Contains(got, tok) || strings.Contains(got, tok[:16]) {
				t.Fatalf("%v: a minted token shows: %q", now.Sub(start), got)
			}
			srv.Inject(wechat.GetEnvInfoPath, wechattest.Fault{ErrCode: 40001, ErrMsg: "invalid credential, access_token is " + tok})
			_, _, err := c.GetEnvInfo(t.Context(), wechat.StaticTokenSource(wechattest.AccessToken), "")
			var we *wechat.Error
			if !errors.As(err, &we) || strings.Contains(err.Error(), tok) || strings.Contains(we.ErrMsg, tok[:16]) {
				t.Fatalf("%v: the error shows a minted token: %v", now.Sub(start), err)
			}
		}

		// Up to its expiry, the last instant it is valid, a token is still
		// scrubbed; past it and a sweep, it is gone.
		mu.Lock()
		now = now.Add(runEvery - 10*time.Minute)
		mu.Unlock()
		tok, _ := sources[0].Token(context.Background()) // still valid: not minted again
		if tok.Value.Reveal() != tokens[0] {
			t.Fatalf("%v: authorizer 0 minted again before its token was due", now.Sub(start))
		}
		mu.Lock()
		now = tok.Expiry
		mu.Unlock()
		if got := sc.Scrub(tokens[0]); got != wechat.Redacted {
			t.Fatalf("at its expiry a minted token shows: %q", got)
		}
		mu.Lock()
		now = now.Add(time.Minute) // the next run: every token has expired
		mu.Unlock()
		previous = tokens
	}
	mu.Lock()
	now = now.Add(2*wechat.DefaultTokenLifetime + time.Second)
	mu.Unlock()
	if n := sc.Sweep(); n != 3 {
		t.Errorf("four hours after the last run the scrubber keeps %d values, want the 3 configured ones", n)
	}
	if got := sc.Scrub(previous[0]); got != previous[0] {
		t.Errorf("an expired token is still kept: %q", got)
	}
}
