package tokens

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestAuthorizerSlots: every slot added is found under its appid, and
// only there, whatever the order they come in and however many merges
// that takes; ids are sorted.
func TestAuthorizerSlots(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, minMerge - 1, minMerge, 1000, 10000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			ids := make([]string, n)
			for i := range ids {
				ids[i] = fmt.Sprintf("wx%016d", i*7)
			}
			order := slices.Clone(ids)
			rand.New(rand.NewPCG(1, uint64(n))).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			var a authorizerSlots
			want := map[string]*slot{}
			for i, id := range order {
				if a.get(id) != nil {
					t.Fatalf("%s found before it was added", id)
				}
				s := &slot{}
				a.add(id, s)
				want[id] = s
				if i%97 == 0 { // lookups between merges
					for id, s := range want {
						if a.get(id) != s {
							t.Fatalf("after %d adds, %s has another slot", i+1, id)
						}
					}
				}
			}
			for id, s := range want {
				if a.get(id) != s {
					t.Fatalf("%s has another slot", id)
				}
			}
			if a.get("wx-absent") != nil || a.get("") != nil {
				t.Fatal("an appid never added has a slot")
			}
			if got := a.ids(); !slices.Equal(got, ids) && !(n == 0 && len(got) == 0) {
				t.Fatalf("ids = %d appids, sorted %v; want the %d added, sorted", len(got), slices.IsSorted(got), n)
			}
			if len(a.recent) != 0 || len(a.sorted) != n {
				t.Fatalf("after ids: %d sorted, %d recent; want %d, 0", len(a.sorted), len(a.recent), n)
			}
		})
	}
}
