package alertstate_test

import (
	"context"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alertstate"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

func TestListOpen(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	run := alertstate.Run{
		Alerts: []alertstate.Alert{
			{Authorizer: "wxA", Operation: "getenvinfo", Env: "e1", Resource: "environment", Status: "HALTED", Message: "environment e1 is HALTED"},
			{Operation: "describecloudbaserunenvs", Env: "e2", Resource: "database:db1", Status: "UNUSABLE"},
		},
		Failures: []alertstate.Failure{{Authorizer: "wxB", Operation: "getenvinfo", Kind: "auth", ErrCode: 61023, Message: "revoked"}},
	}
	if _, err := alertstate.Update(ctx, st, "p:", now, run, 0); err != nil {
		t.Fatal(err)
	}
	all, err := alertstate.ListOpen(ctx, st, "p:", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("ListOpen = %d entries, want 3: %+v", len(all), all)
	}
	byAuth := map[string]alertstate.Open{}
	for _, o := range all {
		byAuth[o.Authorizer] = o
		if !o.Since.Equal(now) {
			t.Errorf("%+v: since %v, want %v", o, o.Since, now)
		}
	}
	if o := byAuth["wxB"]; o.Resource != alertstate.ResourceOperation || o.ErrCode != 61023 || o.Operation != "getenvinfo" {
		t.Errorf("wxB = %+v, want its failure", o)
	}
	if o := byAuth[""]; o.Operation != "describecloudbaserunenvs" || o.Resource != "database:db1" {
		t.Errorf("no authorizer = %+v, want the database alert", o)
	}
	one, err := alertstate.ListOpen(ctx, st, "p:", "wxA")
	if err != nil {
		t.Fatal(err)
	}
	if len(one) != 1 || one[0].Env != "e1" || one[0].Message != "environment e1 is HALTED" {
		t.Fatalf("ListOpen(wxA) = %+v", one)
	}
}
