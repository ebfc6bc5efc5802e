package status_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/silence"
	"github.com/wxcloudenv/wxcloudenv/internal/status"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// TestSilencesShown: the page lists the active silences (not the ended
// ones), escaped, and counts the open alerts and failures they cover.
func TestSilencesShown(t *testing.T) {
	now := testNow()
	st := store.NewMemory()
	st.Now = func() time.Time { return now }
	seed(t, st, now, 100, time.Hour, "Merchant")
	ctx := context.Background()
	book := silence.Book{Store: st, Prefix: prefix}
	for _, body := range []string{
		// The ten HALTED environments (i%10 == 7).
		`{"matchers":{"status":"HALTED"},"duration":"4h","comment":"ticket <b>42</b> with WeChat","created_by":"ops"}`,
		// Two of the ten 61023 failures (i%10 == 3).
		`{"matchers":{"authorizer":["wx00000003","wx00000013"],"errcode":"61023"},"duration":"1h"}`,
		// Ends before the page's time: not shown, covers nothing.
		`{"matchers":{"errcode":"61023"},"duration":"1m"}`,
	} {
		created := now
		if strings.Contains(body, `"1m"`) {
			created = now.Add(-time.Hour)
		}
		s, err := silence.Parse([]byte(body), created)
		if err != nil {
			t.Fatalf("Parse(%s): %v", body, err)
		}
		if err := book.Create(ctx, s, created); err != nil {
			t.Fatal(err)
		}
	}
	d, err := status.Load(ctx, source(st, now, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Silences) != 2 {
		t.Fatalf("silences = %+v, want the two active ones", d.Silences)
	}
	if first := d.Silences[0]; first.Matchers["authorizer"] != "wx00000003, wx00000013" || first.Matchers["errcode"] != "61023" {
		t.Errorf("the silence ending first is %+v, want the one on two authorizers", first)
	}
	if d.Counts.Silenced != 12 {
		t.Errorf("silenced = %d, want 12 (10 HALTED environments and 2 failures)", d.Counts.Silenced)
	}
	page := string(d.HTML())
	if !strings.Contains(page, "ticket &lt;b&gt;42&lt;/b&gt; with WeChat") || strings.Contains(page, "<b>42</b>") {
		t.Error("the silence's comment is not on the page as escaped text")
	}
}
