package names_test

import (
	"slices"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/names"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// TestLacking: what a run may read ahead for a Load is exactly what the
// Load then reads: every appid without a Memo or before the first read,
// those the Memo lacks after MemoReread, none within it.
func TestLacking(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	st := store.NewMemory()
	ids := []string{"wxa", "wxb", "wxc"}
	if err := st.Set(ctx, names.Key("t:", "wxb"), store.Value{Data: []byte(`{"name":"B","known":true}`), Expires: now.Add(names.TTL)}); err != nil {
		t.Fatal(err)
	}
	plain := &names.Book{Store: st, Prefix: "t:"}
	if got := plain.Lacking(ids); !slices.Equal(got, ids) {
		t.Fatalf("no Memo: %q", got)
	}
	b := &names.Book{Store: st, Prefix: "t:", Memo: &names.Memo{}, Now: func() time.Time { return now }}
	if got := b.Lacking(ids); !slices.Equal(got, ids) {
		t.Fatalf("before the first read: %q", got)
	}
	if _, _, err := b.Load(ctx, ids, nil); err != nil {
		t.Fatal(err)
	}
	if got := b.Lacking(ids); got != nil {
		t.Fatalf("read moments ago: %q, want none", got)
	}
	now = now.Add(names.MemoReread)
	if got := b.Lacking(ids); !slices.Equal(got, []string{"wxa", "wxc"}) {
		t.Fatalf("after MemoReread: %q, want the two it lacks", got)
	}
}
