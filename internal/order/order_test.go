package order_test

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/order"
)

type item struct {
	key  int
	name string
	seq  int
}

// TestSortsAsSlices: both sorts give slices' own order on random input
// with many equal keys; the stable one keeps equal elements in order.
func TestSortsAsSlices(t *testing.T) {
	byKey := func(a, b item) int { return cmp.Compare(a.key, b.key) }
	full := func(a, b item) int { return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.name, b.name)) }
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 7, 12, 13, 50, 1000} {
		in := make([]item, n)
		for i := range in {
			in[i] = item{key: r.IntN(5), name: string(rune('a' + r.IntN(26))), seq: i}
		}
		got, want := slices.Clone(in), slices.Clone(in)
		order.SortStableFunc(got, byKey)
		slices.SortStableFunc(want, byKey)
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d: SortStableFunc differs from slices.SortStableFunc", n)
		}
		got = slices.Clone(in)
		order.SortFunc(got, full)
		if !slices.IsSortedFunc(got, full) {
			t.Fatalf("n=%d: SortFunc left it unsorted", n)
		}
		for i := range got {
			if i > 0 && full(got[i-1], got[i]) == 0 && got[i-1].seq == got[i].seq {
				t.Fatalf("n=%d: an element twice", n)
			}
		}
		if counts := func(s []item) map[int]int {
			m := map[int]int{}
			for _, x := range s {
				m[x.seq]++
			}
			return m
		}(got); len(counts) != n {
			t.Fatalf("n=%d: %d distinct elements after SortFunc", n, len(counts))
		}
	}
}
