package silence_test

import (
	"context"
	"errors"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/silence"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// FuzzParse: any body either becomes a silence that matches something and
// ends within 90 days, or is refused with a field named and nothing
// stored.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"matchers":{"authorizer":["wxA","wxB"],"errcode":"85088"},"duration":"2h","comment":"c","created_by":"ops"}`,
		`{"matchers":{"env":"e"},"ends_at":"2026-12-07T00:00:00Z"}`,
		`{"matchers":{"region":"x"},"duration":"1h"}`, `{`, `[]`, `null`, `{"matchers":{"errcode":85088}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		st := store.NewMemory()
		b := &silence.Book{Store: st, Prefix: "f:"}
		s, err := silence.Parse(body, now)
		if err != nil {
			var fe *silence.FieldError
			if !errors.As(err, &fe) || fe.Field == "" || s != nil {
				t.Fatalf("Parse(%q) = %v, %v: a refusal must name a field", body, s, err)
			}
			if keys, _ := st.Keys(context.Background(), "f:"); len(keys) != 0 {
				t.Fatalf("a refused body stored %v", keys)
			}
			return
		}
		if len(s.Matchers) == 0 || !s.EndsAt.After(now) || s.EndsAt.Sub(now) > silence.MaxDuration || len(s.Comment) > silence.MaxCommentBytes {
			t.Fatalf("Parse(%q) accepted %+v", body, s)
		}
		if err := b.Create(context.Background(), s, now); err != nil {
			t.Fatal(err)
		}
		list, err := b.List(context.Background(), now)
		if err != nil || len(list) != 1 || list[0].ID != s.ID {
			t.Fatalf("stored %+v, listed %+v, %v", s, list, err)
		}
	})
}
