package incident

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)

func fail(appid string, kind string, errcode int) Item {
	return Item{Change: ChangeNew, Authorizer: appid, Operation: "getenvinfo", Resource: ResourceOperation, Kind: kind, ErrCode: errcode,
		Message: "m", Since: t0}
}

func env(appid, e, status, change string) Item {
	return Item{Change: change, Authorizer: appid, Operation: "getenvinfo", Env: e, Resource: "env", Status: status, Since: t0}
}

func fleetOf(n int, kind string, errcode int) []Item {
	out := make([]Item, n)
	for i := range out {
		out[i] = fail(fmt.Sprintf("wx%05d", n-i), kind, errcode) // reverse order: groups sort by appid
		out[i].Since = t0.Add(time.Duration(i) * time.Minute)
	}
	return out
}

func TestGroup(t *testing.T) {
	tests := []struct {
		name      string
		items     []Item
		min       int
		wantKeys  []string
		wantCount []int
		wantAlone int // items in no group
	}{
		{name: "empty", min: 3},
		{name: "below the minimum", items: fleetOf(2, "permission", 85088), min: 3, wantAlone: 2},
		{name: "at the minimum", items: fleetOf(3, "permission", 85088), min: 3,
			wantKeys: []string{"new:getenvinfo:operation:permission:85088"}, wantCount: []int{3}},
		{name: "zero never groups", items: fleetOf(50, "permission", 85088), min: 0, wantAlone: 50},
		{name: "different errcodes stay apart", items: append(fleetOf(3, "permission", 85088), fleetOf(3, "permission", 61007)...), min: 3,
			wantKeys: []string{"new:getenvinfo:operation:permission:61007", "new:getenvinfo:operation:permission:85088"}, wantCount: []int{3, 3}}, // a tie goes by key
		{name: "different changes stay apart", items: []Item{
			env("wxA", "e1", "HALTED", ChangeNew), env("wxB", "e1", "HALTED", ChangeNew), env("wxC", "e1", "HALTED", ChangeNew),
			env("wxD", "e1", "HALTED", ChangeResolved), env("wxE", "e1", "HALTED", ChangeResolved)}, min: 3,
			wantKeys: []string{"new:getenvinfo:env:HALTED"}, wantCount: []int{3}, wantAlone: 2},
		{name: "envs of one authorizer count", items: []Item{
			env("wxA", "e1", "HALTED", ChangeNew), env("wxA", "e2", "HALTED", ChangeNew), env("wxA", "e3", "HALTED", ChangeNew)}, min: 3,
			wantKeys: []string{"new:getenvinfo:env:HALTED"}, wantCount: []int{3}},
		{name: "the same pair twice covers one", items: []Item{
			env("wxA", "e1", "HALTED", ChangeNew), env("wxA", "e1", "HALTED", ChangeNew), env("wxB", "e1", "HALTED", ChangeNew)}, min: 3,
			wantAlone: 3},
		{name: "failures before alerts, larger first", items: append(append([]Item{
			env("wxA", "e1", "NORMAL", ChangeResolved), env("wxB", "e1", "NORMAL", ChangeResolved), env("wxC", "e1", "NORMAL", ChangeResolved)},
			fleetOf(3, "permission", 61007)...), fleetOf(4, "upstream", 0)...), min: 3,
			wantKeys:  []string{"new:getenvinfo:operation:upstream:0", "new:getenvinfo:operation:permission:61007", "resolved:getenvinfo:env:NORMAL"},
			wantCount: []int{4, 3, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, of := Group(tt.items, tt.min)
			var keys []string
			var counts []int
			for _, g := range got {
				keys = append(keys, g.Key)
				counts = append(counts, g.Count)
			}
			if !reflect.DeepEqual(keys, tt.wantKeys) || !reflect.DeepEqual(counts, tt.wantCount) {
				t.Fatalf("Group keys = %v %v, want %v %v", keys, counts, tt.wantKeys, tt.wantCount)
			}
			alone := 0
			for i, g := range of {
				if g < 0 {
					alone++
					continue
				}
				if k := key(&tt.items[i]); got[g].Key != k {
					t.Fatalf("item %d (%s) is in group %s", i, k, got[g].Key)
				}
			}
			if alone != tt.wantAlone {
				t.Fatalf("items alone = %d, want %d", alone, tt.wantAlone)
			}
		})
	}
}

func TestGroupFields(t *testing.T) {
	items := fleetOf(250, "permission", 85088)
	items[7].Message = "other"
	got, _ := Group(items, 3)
	if len(got) != 1 {
		t.Fatalf("groups = %d, want 1", len(got))
	}
	g := got[0]
	if g.Count != 250 || g.Change != ChangeNew || g.Operation != "getenvinfo" || g.Resource != ResourceOperation || g.Kind != "permission" ||
		g.ErrCode != 85088 || g.Status != "" {
		t.Fatalf("incident = %+v", g)
	}
	if g.Message != "" {
		t.Fatalf("message = %q, want none when members differ", g.Message)
	}
	if len(g.Authorizers) != MaxAuthorizers || g.Authorizers[0] != "wx00001" || g.Authorizers[99] != "wx00100" {
		t.Fatalf("authorizers = %d from %s to %s, want the first %d in order", len(g.Authorizers), g.Authorizers[0], g.Authorizers[len(g.Authorizers)-1], MaxAuthorizers)
	}
	if !g.Since.Equal(t0) {
		t.Fatalf("since = %v, want the earliest %v", g.Since, t0)
	}
	if items[g.Members[0]].Authorizer != "wx00001" || len(g.Members) != 250 {
		t.Fatalf("members start at %s (%d), want wx00001 and all 250", items[g.Members[0]].Authorizer, len(g.Members))
	}
}

// TestIncidentJSON: the event's incidents round-trip through encoding/json.
func TestIncidentJSON(t *testing.T) {
	got, _ := Group(fleetOf(4, "permission", 85088), 3)
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var back []Incident
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got[0].Members = nil
	if !reflect.DeepEqual(back, got) {
		t.Fatalf("round trip:\n got %+v\nwant %+v\njson %s", back, got, b)
	}
	var raw []map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"key", "count", "change", "operation", "resource", "kind", "errcode", "authorizers", "since"} {
		if _, ok := raw[0][k]; !ok {
			t.Fatalf("incident JSON lacks %q: %s", k, b)
		}
	}
}

func BenchmarkGroup10000(b *testing.B) {
	items := fleetOf(10000, "permission", 85088)
	for i := 0; i < 10000; i += 3 {
		items[i].ErrCode = 61007
	}
	b.ReportAllocs()
	for b.Loop() {
		Group(items, 3)
	}
}
