package tokens

import (
	"slices"
	"strings"
)

// authorizerSlots are the slots of one component's authorizers, by appid.
// A fleet keeps one per authorizer for the process's life, so they are
// kept as a sorted array of (appid, slot), 24 bytes each, instead of a
// map (about 40 bytes an entry at 10,000): a lookup is a binary search,
// and slots made since the last merge wait in a small map until there are
// half as many as the array holds. Callers hold the table's lock.
type authorizerSlots struct {
	sorted []idSlot
	recent map[string]idSlot
}

// idSlot is one authorizer's slot, under its appid.
type idSlot struct {
	id string
	s  *slot
}

// minMerge is how many recent slots wait at least before a merge.
const minMerge = 64

// get returns id's entry: its slot (nil when it has none) and id as the
// string it is kept by.
func (a *authorizerSlots) get(id string) idSlot {
	if i, ok := slices.BinarySearchFunc(a.sorted, id, func(e idSlot, id string) int { return strings.Compare(e.id, id) }); ok {
		return a.sorted[i]
	}
	return a.recent[id]
}

// add keeps s as id's slot; id has none yet.
func (a *authorizerSlots) add(id string, s *slot) {
	if a.recent == nil {
		a.recent = map[string]idSlot{}
	}
	a.recent[id] = idSlot{id, s}
	if len(a.recent) >= max(minMerge, len(a.sorted)/2) {
		a.merge()
	}
}

// merge moves the recent slots into the sorted array.
func (a *authorizerSlots) merge() {
	if len(a.recent) == 0 {
		return
	}
	add := make([]idSlot, 0, len(a.recent))
	for _, e := range a.recent {
		add = append(add, e)
	}
	slices.SortFunc(add, func(x, y idSlot) int { return strings.Compare(x.id, y.id) })
	out := make([]idSlot, 0, len(a.sorted)+len(add))
	i, j := 0, 0
	for i < len(a.sorted) && j < len(add) {
		if a.sorted[i].id < add[j].id {
			out = append(out, a.sorted[i])
			i++
		} else {
			out = append(out, add[j])
			j++
		}
	}
	out = append(append(out, a.sorted[i:]...), add[j:]...)
	a.sorted, a.recent = out, nil
}
