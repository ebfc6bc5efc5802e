package invoke_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

func TestAlerts(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.SetAnswer(wechat.GetEnvInfoPath, []byte(`{"errcode":0,"errmsg":"ok","info_list":[{"env":"a-1","alias":"a","status":"NORMAL"},{"env":"b-2","alias":"b","status":"HALTED"}]}`))
	srv.SetAnswer(wechat.DescribeCloudBaseRunEnvsPath, []byte(`{"errcode":0,"errmsg":"ok","env_list":[`+
		`{"env_id":"c-3","status":"UNAVAILABLE","databases":[{"instance_id":"db1","status":"RUNNING"},{"instance_id":"db2","status":"OVERDUE"}],"static_storages":[{"bucket":"bk1","status":"offline"}]},`+
		`{"env_id":"d-4","status":"NORMAL","databases":[{"instance_id":"db3","status":"UNUSABLE"}],"static_storages":[{"bucket":"bk2","status":"online"}]}]}`))
	defer srv.Reset()
	hs := newHarness(t, srv, staticEnv(srv))
	out, err := hs.invoke(t, []byte(`{}`), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "alerts.json", normalize(t, out))
	alerts := decode(t, out).body["alerts"].([]any)
	want := []string{"getenvinfo b-2 environment HALTED", "describecloudbaserunenvs c-3 environment UNAVAILABLE",
		"describecloudbaserunenvs c-3 database:db2 OVERDUE", "describecloudbaserunenvs c-3 static_storage:bk1 offline",
		"describecloudbaserunenvs d-4 database:db3 UNUSABLE"}
	if len(alerts) != len(want) {
		t.Fatalf("alerts = %v, want %d", alerts, len(want))
	}
	for i, a := range alerts {
		m := a.(map[string]any)
		if got := fmt.Sprint(m["operation"], " ", m["env"], " ", m["resource"], " ", m["status"]); got != want[i] || m["message"] == "" {
			t.Errorf("alert %d = %v, want %s", i, m, want[i])
		}
	}
	if hs.log.Lines(t)[0]["alerts_total"] != 5.0 {
		t.Errorf("log line does not count the alerts: %v", hs.log.Lines(t)[0])
	}
}

func TestAnswerCap(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.SetAnswer(wechat.DescribeCloudBaseRunEnvsPath, wechattest.GenerateRunEnvs(7000))
	defer srv.Reset()
	hs := newHarness(t, srv, staticEnv(srv))
	_, err := hs.invoke(t, []byte(`{}`), 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "6 MB") || !strings.Contains(err.Error(), "env filter") {
		t.Fatalf("err = %v, want one naming the 6 MB limit and the env filter", err)
	}
	out, err := hs.invoke(t, readFile(t, "../../events/aws-rest-api-v1.json"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	d := decode(t, out)
	if d.status != http.StatusBadGateway || d.body["error"].(map[string]any)["code"] != "response_too_large" || len(out) > invoke.MaxAnswerBytes {
		t.Errorf("HTTP answer over the cap: status %d, %d bytes, body %v", d.status, len(out), d.body)
	}
	// A scheduled run is never lost to the cap: it answers a compact event.
	out, err = hs.invoke(t, readFile(t, "../../events/aws-schedule.json"), 10*time.Second)
	if err != nil {
		t.Fatalf("scheduled run over the cap: %v", err)
	}
	var ev invoke.Event
	if err := json.Unmarshal(out, &ev); err != nil || !ev.Compact || len(out) > invoke.MaxAnswerBytes {
		t.Fatalf("scheduled run over the cap: compact %v, %d bytes, err %v", ev.Compact, len(out), err)
	}
	for _, r := range ev.Results {
		if r.Response != nil || (r.Operation == "describecloudbaserunenvs" && r.Items == 0) {
			t.Errorf("compact result %s = %+v, want items and no response", r.Operation, r)
		}
	}
}

func TestLogLine(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	hs := newHarness(t, srv, staticEnv(srv))
	if _, err := hs.invoke(t, readFile(t, "../../events/aws-schedule.json"), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	lines := hs.log.Lines(t)
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want 1", len(lines))
	}
	l := lines[0]
	if l["level"] != "INFO" || l["request_id"] != "8f6b1c2d-test-request" || l["trigger"] != "schedule" || l["ok"] != true {
		t.Errorf("log line = %v", l)
	}
	ops := l["operations"].(map[string]any)
	if g := ops["getenvinfo"].(map[string]any); g["items"] != 2.0 || g["attempts"] != 1.0 {
		t.Errorf("getenvinfo summary = %v", g)
	}
	if strings.Contains(hs.log.String(), "info_list") {
		t.Errorf("the log line holds the answers")
	}
	// LOG_LEVEL=warn hides successful runs.
	e := staticEnv(srv)
	e["LOG_LEVEL"] = "warn"
	hs = newHarness(t, srv, e)
	hs.invoke(t, []byte(`{}`), 10*time.Second)
	if hs.log.String() != "" {
		t.Errorf("LOG_LEVEL=warn logged a successful run: %s", hs.log.String())
	}
}

// TestEventRoundTrip: a Go consumer can json.Unmarshal the event the core
// writes, and marshalling it again gives the same bytes.
func TestEventRoundTrip(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.SetAnswer(wechat.GetEnvInfoPath, []byte(`{"errcode":0,"errmsg":"ok","info_list":[{"env":"b-2","alias":"b","status":"HALTED"}],"extra":{"kept":[1,2]}}`))
	cases := map[string]env{"ok with an alert": staticEnv(srv), "failures": nil}
	for name, e := range cases {
		hs := newHarness(t, srv, e)
		out, err := hs.invoke(t, []byte(`{}`), 10*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var ev invoke.Event
		if err := json.Unmarshal(out, &ev); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(ev.Results) != 2 || ev.Results[0].Operation != "getenvinfo" || ev.Source != invoke.EventSource {
			t.Errorf("%s: decoded %+v", name, ev)
		}
		again, err := json.Marshal(&ev)
		if err != nil {
			t.Fatal(err)
		}
		if string(again) != string(out) {
			t.Errorf("%s: round trip changed the event:\n got %s\nwant %s", name, again, out)
		}
	}
}
