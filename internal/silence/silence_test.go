package silence_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/silence"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
)

var now = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", silence.MaxCommentBytes+1)
	tests := []struct {
		name, body string
		wantField  string // "" for accepted
		check      func(t *testing.T, s *silence.Silence)
	}{
		{name: "authorizer for two hours", body: `{"matchers":{"authorizer":"wxA"},"duration":"2h","comment":"ticket 123","created_by":"ops"}`,
			check: func(t *testing.T, s *silence.Silence) {
				if !s.EndsAt.Equal(now.Add(2*time.Hour)) || s.Comment != "ticket 123" || s.CreatedBy != "ops" || s.Matchers["authorizer"][0] != "wxA" {
					t.Fatalf("%+v", s)
				}
			}},
		{name: "errcode across the fleet until a time", body: `{"matchers":{"errcode":"85088","operation":"getenvinfo"},"ends_at":"2026-12-07T08:00:00+08:00"}`,
			check: func(t *testing.T, s *silence.Silence) {
				if !s.EndsAt.Equal(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)) {
					t.Fatalf("ends_at = %v", s.EndsAt)
				}
			}},
		{name: "a list of authorizers", body: `{"matchers":{"authorizer":["wxB","wxA","wxB"]},"duration":"1h"}`,
			check: func(t *testing.T, s *silence.Silence) {
				if fmt.Sprint(s.Matchers["authorizer"]) != "[wxA wxB]" {
					t.Fatalf("authorizers = %v", s.Matchers["authorizer"])
				}
			}},
		{name: "an env", body: `{"matchers":{"env":"prod-1","status":"HALTED"},"duration":"90m"}`},
		{name: "not JSON", body: `{`, wantField: "body"},
		{name: "two values", body: `{"matchers":{"env":"a"},"duration":"1h"} {}`, wantField: "body"},
		{name: "unknown field", body: `{"matchers":{"env":"a"},"duration":"1h","until":"x"}`, wantField: "until"},
		{name: "no matchers", body: `{"duration":"1h"}`, wantField: "matchers"},
		{name: "empty matchers", body: `{"matchers":{},"duration":"1h"}`, wantField: "matchers"},
		{name: "unknown label", body: `{"matchers":{"region":"x"},"duration":"1h"}`, wantField: "matchers.region"},
		{name: "errcode as a number", body: `{"matchers":{"errcode":85088},"duration":"1h"}`, wantField: "matchers.errcode"},
		{name: "errcode not digits", body: `{"matchers":{"errcode":"8508x"},"duration":"1h"}`, wantField: "matchers.errcode"},
		{name: "env as a list", body: `{"matchers":{"env":["a","b"]},"duration":"1h"}`, wantField: "matchers.env"},
		{name: "empty value", body: `{"matchers":{"env":""},"duration":"1h"}`, wantField: "matchers.env"},
		{name: "bad appid", body: `{"matchers":{"authorizer":["wx A"]},"duration":"1h"}`, wantField: "matchers.authorizer"},
		{name: "empty authorizer list", body: `{"matchers":{"authorizer":[]},"duration":"1h"}`, wantField: "matchers.authorizer"},
		{name: "control characters", body: `{"matchers":{"status":"a\u0007"},"duration":"1h"}`, wantField: "matchers.status"},
		{name: "no end", body: `{"matchers":{"env":"a"}}`, wantField: "ends_at"},
		{name: "both ends", body: `{"matchers":{"env":"a"},"duration":"1h","ends_at":"2026-12-07T00:00:00Z"}`, wantField: "ends_at"},
		{name: "bad time", body: `{"matchers":{"env":"a"},"ends_at":"tomorrow"}`, wantField: "ends_at"},
		{name: "past time", body: `{"matchers":{"env":"a"},"ends_at":"2026-12-06T11:00:00Z"}`, wantField: "ends_at"},
		{name: "over 90 days", body: `{"matchers":{"env":"a"},"ends_at":"2027-03-07T12:00:01Z"}`, wantField: "ends_at"},
		{name: "bad duration", body: `{"matchers":{"env":"a"},"duration":"soon"}`, wantField: "duration"},
		{name: "negative duration", body: `{"matchers":{"env":"a"},"duration":"-1h"}`, wantField: "duration"},
		{name: "duration over 90 days", body: `{"matchers":{"env":"a"},"duration":"2161h"}`, wantField: "duration"},
		{name: "long comment", body: `{"matchers":{"env":"a"},"duration":"1h","comment":"` + long + `"}`, wantField: "comment"},
		{name: "comment not a string", body: `{"matchers":{"env":"a"},"duration":"1h","comment":7}`, wantField: "comment"},
		{name: "long creator", body: `{"matchers":{"env":"a"},"duration":"1h","created_by":"` + long + `"}`, wantField: "created_by"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := silence.Parse([]byte(tt.body), now)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if tt.check != nil {
					tt.check(t, s)
				}
				return
			}
			var fe *silence.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.wantField || s != nil {
				t.Fatalf("Parse(%s) = %v, %v; want a FieldError on %q", tt.body, s, err, tt.wantField)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	s, err := silence.Parse([]byte(`{"matchers":{"authorizer":["wxA","wxB"],"errcode":"85088"},"duration":"1h"}`), now)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		t    silence.Target
		want bool
	}{
		{silence.Target{Authorizer: "wxA", ErrCode: 85088, Operation: "getenvinfo"}, true},
		{silence.Target{Authorizer: "wxB", ErrCode: 85088}, true},
		{silence.Target{Authorizer: "wxC", ErrCode: 85088}, false},
		{silence.Target{Authorizer: "wxA", ErrCode: 61007}, false},
		{silence.Target{Authorizer: "wxA"}, false},
	}
	for _, tt := range tests {
		if got := s.Matches(tt.t); got != tt.want {
			t.Errorf("Matches(%+v) = %v, want %v", tt.t, got, tt.want)
		}
	}
	if !s.Active(now) || !s.Active(now.Add(59*time.Minute)) || s.Active(now.Add(time.Hour)) || s.Active(now.Add(-time.Second)) {
		t.Fatal("Active is wrong at its edges")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	s, err := silence.Parse([]byte(`{"matchers":{"authorizer":["wxA","wxB"],"env":"e1"},"duration":"1h","comment":"c"}`), now)
	if err != nil {
		t.Fatal(err)
	}
	s.ID = "0123456789abcdef"
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"env":"e1"`) || !strings.Contains(string(b), `"authorizer":["wxA","wxB"]`) {
		t.Fatalf("JSON = %s", b)
	}
	var back silence.Silence
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(back) != fmt.Sprint(*s) {
		t.Fatalf("round trip = %+v, want %+v", back, *s)
	}
}

// stores opens the book's backends: memory, Redis and DynamoDB (dynalite).
func stores(t *testing.T) map[string]func(t *testing.T) store.Store {
	redisURL := storetest.StartRedis(t)
	dynURL, dynEnv := storetest.StartDynamo(t)
	open := func(url string, opts ...store.Option) func(t *testing.T) store.Store {
		return func(t *testing.T) store.Store {
			s, err := store.Open(url, opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	}
	mem := store.NewMemory()
	return map[string]func(t *testing.T) store.Store{
		"memory":   func(*testing.T) store.Store { return mem },
		"redis":    open(redisURL),
		"dynamodb": open(dynURL, store.WithEnv(storetest.Lookup(dynEnv))),
	}
}

func TestBook(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			prefix := fmt.Sprintf("t%d:", time.Now().UnixNano())
			a := &silence.Book{Store: open(t), Prefix: prefix}
			b := &silence.Book{Store: open(t), Prefix: prefix} // another instance
			ctx := context.Background()
			s1, _ := silence.Parse([]byte(`{"matchers":{"env":"e1"},"duration":"1h"}`), now)
			s2, _ := silence.Parse([]byte(`{"matchers":{"errcode":"85088"},"duration":"3h"}`), now.Add(time.Minute))
			if err := a.Create(ctx, s1, now); err != nil {
				t.Fatal(err)
			}
			if err := b.Create(ctx, s2, now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if s1.ID == "" || s1.ID == s2.ID {
				t.Fatalf("ids %q %q", s1.ID, s2.ID)
			}
			list, err := b.List(ctx, now.Add(2*time.Minute))
			if err != nil || len(list) != 2 || list[0].ID != s2.ID {
				t.Fatalf("List = %+v, %v; want both, newest first", list, err)
			}
			// Ending is at once, seen by the other instance, and idempotent.
			if err := b.End(ctx, s1.ID, now.Add(5*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := a.End(ctx, s1.ID, now.Add(6*time.Minute)); err != nil {
				t.Fatal(err)
			}
			active, err := a.Active(ctx, now.Add(5*time.Minute))
			if err != nil || len(active) != 1 || active[0].ID != s2.ID {
				t.Fatalf("Active = %+v, %v", active, err)
			}
			list, _ = a.List(ctx, now.Add(5*time.Minute))
			if len(list) != 2 || list[1].ID != s1.ID || !list[1].EndsAt.Equal(now.Add(5*time.Minute)) {
				t.Fatalf("List after End = %+v; want the ended one listed with its end", list)
			}
			// Ended ones are listed for a week.
			if list, _ := a.List(ctx, now.Add(5*time.Minute+silence.KeepEnded+time.Second)); len(list) != 1 || list[0].ID != s2.ID {
				t.Fatalf("List a week on = %+v", list)
			}
			if err := a.End(ctx, "ffffffffffffffff", now); !errors.Is(err, silence.ErrNotFound) {
				t.Fatalf("End(unknown) = %v", err)
			}
			if err := a.End(ctx, "../x", now); !errors.Is(err, silence.ErrNotFound) {
				t.Fatalf("End(bad id) = %v", err)
			}
		})
	}
}

// TestBookConcurrent: two instances creating and ending silences at once
// lose nothing.
func TestBookConcurrent(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			prefix := fmt.Sprintf("c%d:", time.Now().UnixNano())
			books := []*silence.Book{{Store: open(t), Prefix: prefix}, {Store: open(t), Prefix: prefix}}
			ctx := context.Background()
			var wg sync.WaitGroup
			ids := make([][]string, 2)
			for i, bk := range books {
				wg.Go(func() {
					for j := range 10 {
						s, _ := silence.Parse([]byte(fmt.Sprintf(`{"matchers":{"env":"e%d-%d"},"duration":"1h"}`, i, j)), now)
						if err := bk.Create(ctx, s, now); err != nil {
							t.Error(err)
							return
						}
						ids[i] = append(ids[i], s.ID)
						if j%2 == 0 {
							if err := books[1-i].End(ctx, s.ID, now.Add(time.Minute)); err != nil {
								t.Error(err)
							}
						}
					}
				})
			}
			wg.Wait()
			list, err := books[0].List(ctx, now.Add(2*time.Minute))
			if err != nil || len(list) != 20 {
				t.Fatalf("List = %d silences, %v; want 20", len(list), err)
			}
			active := 0
			for _, s := range list {
				if s.Active(now.Add(2 * time.Minute)) {
					active++
				}
			}
			if active != 10 {
				t.Fatalf("active = %d, want 10", active)
			}
		})
	}
}
