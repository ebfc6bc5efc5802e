package bench

import (
	"encoding/json"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/config/configtest"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
	"github.com/wxcloudenv/wxcloudenv/test/baseline"
)

// TestBaselineDoesTheSameJob checks that the baseline fetches exactly the
// answers the core embeds in its event, so that the two are compared on
// the same work.
func TestBaselineDoesTheSameJob(t *testing.T) {
	srv := wechattest.NewServer()
	defer srv.Close()
	ctx, cancel := lambdaContext()
	defer cancel()
	got, err := baseline.Fetch(ctx, newBaselineClient(t), srv.URL, wechattest.AccessToken, wechattest.ComponentAccessToken)
	if err != nil {
		t.Fatal(err)
	}
	var fromBaseline map[string]json.RawMessage
	if err := json.Unmarshal(got, &fromBaseline); err != nil {
		t.Fatalf("baseline answer is not JSON: %v", err)
	}
	out, err := newCore(t, configtest.StaticVars(srv.URL)).Invoke(ctx, directAll)
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
		if string(fromBaseline[op]) != string(ev.Results[op].Response) || len(fromBaseline[op]) == 0 {
			t.Errorf("%s: the baseline fetched %d bytes, the core embedded %d different ones", op, len(fromBaseline[op]), len(ev.Results[op].Response))
		}
	}
}
