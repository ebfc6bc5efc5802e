package wechat

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// The keys and shapes the fuzzer picks from.
var fuzzShapes = []struct {
	want  string
	shape *listShape
}{
	{"info_list", envInfoShape},
	{"env_list", runEnvsShape},
	{"access_token", nil},
}

// FuzzCheckAnswer checks the one-pass answer reader against a reference
// built on encoding/json: it accepts exactly what json.Valid accepts, and
// reads the same errcode, errmsg, list and environment health.
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
		got, err := scanAnswerKeep(raw, fs.want, fs.shape, keepAll)
		valid := json.Valid(raw)
		if (err == nil || errors.Is(err, errNotObject)) != valid {
			t.Fatalf("scanAnswer(%q) = %v, json.Valid = %v", raw, err, valid)
		}
		var top map[string]json.RawMessage
		isObject := valid && json.Unmarshal(raw, &top) == nil && top != nil
		if errors.Is(err, errNotObject) == isObject && valid {
			t.Fatalf("scanAnswer(%q) = %v, but JSON object = %v", raw, err, isObject)
		}
		if err != nil {
			if _, cerr := checkAnswer("op", raw, fs.want, fs.shape); cerr == nil || cerr.Kind != KindBadResponse {
				t.Fatalf("checkAnswer(%q) = %v, want bad_response", raw, cerr)
			}
			return
		}
		want := reference(top, fs.want, fs.shape)
		if got.hasErrCode != want.hasErrCode || (got.errCodeErr == nil) != (want.errCodeErr == nil) ||
			(got.errCodeErr == nil && got.errCode != want.errCode) || got.errMsg != want.errMsg || got.hasWant != want.hasWant {
			t.Fatalf("header of %q:\n got %+v\nwant %+v", raw, got, want)
		}
		if (got.shapeErr == "") != (want.shapeErr == "") {
			t.Fatalf("shape of %q: got %q, want %q", raw, got.shapeErr, want.shapeErr)
		}
		if got.shapeErr == "" && !reflect.DeepEqual(got.health, want.health) {
			t.Fatalf("health of %q:\n got %+v\nwant %+v", raw, got.health, want.health)
		}
		if _, cerr := checkAnswer("op", raw, fs.want, fs.shape); cerr != nil && (cerr.Kind == "" || cerr.Op != "op" || cerr.Error() == "") {
			t.Fatalf("unclassified error %#v", cerr)
		}
	})
}

// keepAll keeps every resource.
func keepAll(ResourceKind, string) bool { return true }

// reference reads a JSON object as scanAnswer should, with encoding/json.
func reference(top map[string]json.RawMessage, want string, shape *listShape) answer {
	var a answer
	if v, ok := top["errcode"]; ok && string(v) != "null" {
		a.hasErrCode = true
		var n int32
		if err := json.Unmarshal(v, &n); err != nil || len(v) > maxErrCodeDigits {
			a.errCodeErr = errErrCode
		} else {
			a.errCode = int(n)
		}
	}
	if v, ok := top["errmsg"]; ok {
		_ = json.Unmarshal(v, &a.errMsg)
	}
	if v, ok := top[want]; ok && string(v) != "null" {
		a.hasWant = true
	}
	if shape == nil {
		return a
	}
	v, ok := top[shape.key]
	if !ok || string(v) == "null" {
		return a
	}
	var list []json.RawMessage
	if json.Unmarshal(v, &list) != nil {
		a.shapeErr = "list"
		return a
	}
	a.health.Items = len(list)
	for _, item := range list {
		if string(item) == "null" {
			a.add(Resource{Kind: ResourceEnvironment})
			continue
		}
		var env map[string]json.RawMessage
		if json.Unmarshal(item, &env) != nil {
			a.shapeErr = "env"
			return a
		}
		str := func(m map[string]json.RawMessage, k string) string {
			var p *string
			if v, ok := m[k]; ok && json.Unmarshal(v, &p) != nil {
				a.shapeErr = "field " + k
			}
			if p == nil {
				return ""
			}
			return *p
		}
		resources := func(k, idKey string, kind ResourceKind) []Resource {
			var out []Resource
			v, ok := env[k]
			if !ok || string(v) == "null" {
				return nil
			}
			var rs []json.RawMessage
			if json.Unmarshal(v, &rs) != nil {
				a.shapeErr = k
				return nil
			}
			for _, r := range rs {
				var m map[string]json.RawMessage
				if string(r) == "null" {
					continue
				}
				if json.Unmarshal(r, &m) != nil {
					a.shapeErr = k + " element"
					return nil
				}
				out = append(out, Resource{Kind: kind, ID: bounded(str(m, idKey), MaxIDBytes), Status: bounded(str(m, "status"), MaxStatusBytes)})
			}
			return out
		}
		envID, envAlias := bounded(str(env, shape.id), MaxIDBytes), bounded(str(env, "alias"), MaxIDBytes)
		a.add(Resource{Kind: ResourceEnvironment, Env: envID, Alias: envAlias, Status: bounded(str(env, "status"), MaxStatusBytes)})
		if shape.resources {
			for _, r := range append(resources("databases", "instance_id", ResourceDatabase), resources("static_storages", "bucket", ResourceStaticStorage)...) {
				r.Env, r.Alias = envID, envAlias
				a.add(r)
			}
		}
	}
	return a
}

// TestScanDepth checks the nesting limit against json.Valid's.
func TestScanDepth(t *testing.T) {
	for _, n := range []int{9999, 10000, 10001} {
		raw := []byte(`{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}`)
		_, err := scanAnswer(raw, "a", nil)
		if (err == nil) != json.Valid(raw) {
			t.Errorf("depth %d: scanAnswer = %v, json.Valid = %v", n, err, json.Valid(raw))
		}
	}
}
