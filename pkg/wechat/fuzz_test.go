package wechat

import (
	"encoding/json"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/internal/scan"
)

// The keys and shapes the fuzzer picks from.
var fuzzShapes = []struct {
	want  string
	shape *scan.Shape
}{
	{"info_list", scan.EnvInfo},
	{"env_list", scan.RunEnvs},
	{"access_token", nil},
}

// FuzzCheckAnswer checks how the client judges any answer: what is not
// valid JSON is bad_response, and every failure is classified and names
// its operation. Package scan's FuzzScan checks what the pass reads
// against encoding/json.
func FuzzCheckAnswer(f *testing.F) {
	for _, s := range []string{`{"errcode":0,"errmsg":"ok","info_list":[]}`, `{"errcode":-1,"errmsg":"system error rid: a-b-c"}`,
		`{"errmsg":"ok"}`, `<html></html>`, `{"errcode":"0"}`, `{"errcode":1e3}`, `null`, `[]`, `{"env_list":null}`, ``,
		`{"env_list":[{"env_id":"a","status":"UNAVAILABLE","databases":[{"instance_id":"d","status":"UNUSABLE"}],"static_storages":[{"bucket":"b","status":"offline"}]}]}`,
		`{"info_list":[{"env":"x\u0041","alias":"\ud83d\ude00","status":"NORM\u0041L"},null,{"status":null}]}`,
		`{"env_list":[{"status":1,"status":"NORMAL"}],"env_list":[{"env_id":"e"}]}`,
		`{"errcode":0,"errmsg":"ok","env_list":[{"env_id":"e","databases":{},"status":"NORMAL"}]}`,
		"{\"errmsg\":\"\xff\xfe\",\"errcode\":40001}", `{"a":[1,2.5e-3,-0,true,false,null,{"b":"\n"}]}`, `{"a":01}`, `{"a":"\x01"}`, `{"a":1}x`,
		"{ \"errcode\" : 40001 ,\r\n\t\"errmsg\" : \"x\" , \"env_list\" : [ { \"status\" : \"NORMAL\" } ] }",
	} {
		for i := range fuzzShapes {
			f.Add([]byte(s), uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, pick uint8) {
		fs := fuzzShapes[int(pick)%len(fuzzShapes)]
		_, err := scan.Scan(raw, fs.want, fs.shape, nil)
		_, cerr := checkAnswer("op", raw, fs.want, fs.shape)
		if err != nil {
			if cerr == nil || cerr.Kind != KindBadResponse {
				t.Fatalf("checkAnswer(%q) = %v, want bad_response", raw, cerr)
			}
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("checkAnswer(%q) read invalid JSON without failing", raw)
		}
		if cerr != nil && (cerr.Kind == "" || cerr.Op != "op" || cerr.Error() == "") {
			t.Fatalf("unclassified error %#v", cerr)
		}
	})
}

// TestKnownStatuses checks that the statuses the scanner passes to a
// filter without allocating are the status constants of models.go.
func TestKnownStatuses(t *testing.T) {
	want := []string{EnvNormal, EnvUnavailable, EnvHalted, DatabaseInitializing, DatabaseRunning,
		DatabaseUnusable, DatabaseOverdue, StaticStorageProcess, StaticStorageOnline, StaticStorageOffline, StaticStorageInit}
	got := scan.KnownStatuses()
	if len(got) != len(want) {
		t.Fatalf("scan knows %q, models.go has %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("status %d: scan %q, models.go %q", i, got[i], want[i])
		}
	}
}
