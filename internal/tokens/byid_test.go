package tokens

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// TestAuthorizerSlots: every slot added is found under its appid, and
// only there, whatever the order they come in and however many merges
// that takes, with the appid as the string it was added with; merged,
// they are sorted.
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
				if a.get(id).s != nil {
					t.Fatalf("%s found before it was added", id)
				}
				s := &slot{}
				a.add(id, s)
				want[id] = s
				if i%97 == 0 { // lookups between merges
					for id, s := range want {
						if a.get(id).s != s {
							t.Fatalf("after %d adds, %s has another slot", i+1, id)
						}
					}
				}
			}
			for id, s := range want {
				if a.get(id).s != s {
					t.Fatalf("%s has another slot", id)
				}
			}
			if a.get("wx-absent").s != nil || a.get("").s != nil {
				t.Fatal("an appid never added has a slot")
			}
			// The appid comes back as the string it was added with.
			for _, id := range order {
				copied := string([]byte(id))
				if got := a.get(copied).id; unsafe.StringData(got) != unsafe.StringData(id) {
					t.Fatalf("%s came back as another string", id)
				}
			}
			a.merge()
			got := make([]string, len(a.sorted))
			for i, e := range a.sorted {
				got[i] = e.id
			}
			if !slices.Equal(got, ids) || len(a.recent) != 0 {
				t.Fatalf("merged: %d appids, sorted %v, %d recent; want the %d added, sorted, none recent", len(got), slices.IsSorted(got), len(a.recent), n)
			}
		})
	}
}
