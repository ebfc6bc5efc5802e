package bench

import (
	"encoding/json"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/floor"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// TestFloorDoesTheSameJob checks that the floor fetches exactly the
// answers the core embeds in its event, so that the two are compared on
// the same work.
func TestFloorDoesTheSameJob(t *testing.T) {
	srv := wechattest.NewServer()
	defer srv.Close()
	ctx, cancel := lambdaContext()
	defer cancel()
	got, err := floor.Fetch(ctx, newFloorClient(t), srv.URL, wechattest.AccessToken, wechattest.ComponentAccessToken)
	if err != nil {
		t.Fatal(err)
	}
	var fromFloor map[string]json.RawMessage
	if err := json.Unmarshal(got, &fromFloor); err != nil {
		t.Fatalf("floor answer is not JSON: %v", err)
	}
	out, err := newCore(t, srv.StaticVars()).Invoke(ctx, directAll)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Results map[string]struct {
			Response json.RawMessage `json:"response"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &ev); err != nil {
		t.Fatalf("event is not JSON: %v", err)
	}
	for _, op := range []string{"getenvinfo", "describecloudbaserunenvs"} {
		if string(fromFloor[op]) != string(ev.Results[op].Response) || len(fromFloor[op]) == 0 {
			t.Errorf("%s: the floor fetched %d bytes, the core embedded %d different ones", op, len(fromFloor[op]), len(ev.Results[op].Response))
		}
	}
}
