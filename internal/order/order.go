// Package order sorts slices by a comparison function with one copy of
// the sorting code for every element type.
//
// slices.SortFunc instantiates its pattern-defeating quicksort (about
// nine functions, 10 to 20 KB of machine code) once per element shape,
// and every struct type is a shape of its own: the function's sorts of
// structs cost the Lambda binary (linux/arm64, stripped) 65 KB, whose
// pages are mapped at each cold start. These wrap sort.Sort and sort.Stable, linked once,
// through three small methods per type. They are slower per comparison
// (an interface call), which the lists sorted here (alerts, changes,
// incidents, silences, a message's lines) never notice.
package order

import "sort"

// sorter adapts a slice and a comparison to sort.Interface.
type sorter[T any] struct {
	s   []T
	cmp func(a, b T) int
}

func (x sorter[T]) Len() int           { return len(x.s) }
func (x sorter[T]) Less(i, j int) bool { return x.cmp(x.s[i], x.s[j]) < 0 }
func (x sorter[T]) Swap(i, j int)      { x.s[i], x.s[j] = x.s[j], x.s[i] }

// SortFunc sorts s in the order cmp gives (negative: a before b), as
// slices.SortFunc does; equal elements may be reordered.
func SortFunc[T any](s []T, cmp func(a, b T) int) { sort.Sort(sorter[T]{s, cmp}) }

// SortStableFunc sorts s as SortFunc does, keeping equal elements in
// their order, as slices.SortStableFunc does.
func SortStableFunc[T any](s []T, cmp func(a, b T) int) { sort.Stable(sorter[T]{s, cmp}) }
