package alertstate

import (
	"slices"
	"testing"
)

// TestGroup: a shard per pair, the checked ones first in their order,
// then the others in the order their alerts and failures appear; a pair's
// alerts and failures in its one shard.
func TestGroup(t *testing.T) {
	t.Parallel()
	sc := func(a string) Scope { return Scope{Operation: "getenvinfo", Authorizer: a} }
	run := Run{
		Checked:  []Scope{sc("a"), sc("b"), sc("c")},
		Alerts:   []Alert{{Operation: "getenvinfo", Authorizer: "b"}, {Operation: "getenvinfo", Authorizer: "d"}, {Operation: "getenvinfo", Authorizer: "b"}},
		Failures: []Failure{{Operation: "getenvinfo", Authorizer: "e"}, {Operation: "getenvinfo", Authorizer: "d"}},
	}
	type want struct {
		auth             string
		alerts, failures []int
	}
	wants := []want{{"a", nil, nil}, {"b", []int{0, 2}, nil}, {"c", nil, nil}, {"d", []int{1}, []int{1}}, {"e", nil, []int{0}}}
	got := group(run)
	if len(got) != len(wants) {
		t.Fatalf("%d shards, want %d", len(got), len(wants))
	}
	for i, w := range wants {
		g := got[i]
		if g.scopeIn(run) != sc(w.auth) || !slices.Equal(g.alertsOf(), w.alerts) || !slices.Equal(g.failuresOf(), w.failures) {
			t.Errorf("shard %d: %+v, want %+v", i, *g, w)
		}
	}
}
