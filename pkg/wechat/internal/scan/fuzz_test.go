package scan

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
	shape *Shape
}{
	{"info_list", EnvInfo},
	{"env_list", RunEnvs},
	{"access_token", nil},
}

// FuzzScan checks the one-pass answer reader against a reference built on
// encoding/json: it accepts exactly what json.Valid accepts, and reads the
// same errcode, errmsg, list and environment health.
func FuzzScan(f *testing.F) {
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
		got, err := Scan(raw, fs.want, fs.shape, keepAll)
		valid := json.Valid(raw)
		if (err == nil || errors.Is(err, ErrNotObject)) != valid {
			t.Fatalf("Scan(%q) = %v, json.Valid = %v", raw, err, valid)
		}
		var top map[string]json.RawMessage
		isObject := valid && json.Unmarshal(raw, &top) == nil && top != nil
		if errors.Is(err, ErrNotObject) == isObject && valid {
			t.Fatalf("Scan(%q) = %v, but JSON object = %v", raw, err, isObject)
		}
		if err != nil {
			return
		}
		want := reference(top, fs.want, fs.shape)
		if got.HasErrCode != want.HasErrCode || (got.ErrCodeErr == nil) != (want.ErrCodeErr == nil) ||
			(got.ErrCodeErr == nil && got.ErrCode != want.ErrCode) || got.ErrMsg != want.ErrMsg || got.HasWant != want.HasWant {
			t.Fatalf("header of %q:\n got %+v\nwant %+v", raw, got, want)
		}
		if (got.ShapeErr == "") != (want.ShapeErr == "") {
			t.Fatalf("shape of %q: got %q, want %q", raw, got.ShapeErr, want.ShapeErr)
		}
		if got.ShapeErr == "" && !reflect.DeepEqual(got.Health, want.Health) {
			t.Fatalf("health of %q:\n got %+v\nwant %+v", raw, got.Health, want.Health)
		}
	})
}

// keepAll keeps every resource.
func keepAll(Kind, string) bool { return true }

// reference reads a JSON object as Scan should, with encoding/json.
func reference(top map[string]json.RawMessage, want string, shape *Shape) Answer {
	var a Answer
	if v, ok := top["errcode"]; ok && string(v) != "null" {
		a.HasErrCode = true
		var n int32
		if err := json.Unmarshal(v, &n); err != nil || len(v) > maxErrCodeDigits {
			a.ErrCodeErr = ErrErrCode
		} else {
			a.ErrCode = int(n)
		}
	}
	if v, ok := top["errmsg"]; ok {
		_ = json.Unmarshal(v, &a.ErrMsg)
	}
	if v, ok := top[want]; ok && string(v) != "null" {
		a.HasWant = true
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
		a.ShapeErr = "list"
		return a
	}
	a.Health.Items = len(list)
	for _, item := range list {
		if string(item) == "null" {
			a.add(Resource{Kind: Environment})
			continue
		}
		var env map[string]json.RawMessage
		if json.Unmarshal(item, &env) != nil {
			a.ShapeErr = "env"
			return a
		}
		str := func(m map[string]json.RawMessage, k string) string {
			var p *string
			if v, ok := m[k]; ok && json.Unmarshal(v, &p) != nil {
				a.ShapeErr = "field " + k
			}
			if p == nil {
				return ""
			}
			return *p
		}
		resources := func(k, idKey string, kind Kind) []Resource {
			var out []Resource
			v, ok := env[k]
			if !ok || string(v) == "null" {
				return nil
			}
			var rs []json.RawMessage
			if json.Unmarshal(v, &rs) != nil {
				a.ShapeErr = k
				return nil
			}
			for _, r := range rs {
				var m map[string]json.RawMessage
				if string(r) == "null" {
					continue
				}
				if json.Unmarshal(r, &m) != nil {
					a.ShapeErr = k + " element"
					return nil
				}
				out = append(out, Resource{Kind: kind, ID: Bounded(str(m, idKey), MaxIDBytes), Status: Bounded(str(m, "status"), MaxStatusBytes)})
			}
			return out
		}
		envID, envAlias := Bounded(str(env, shape.id), MaxIDBytes), Bounded(str(env, "alias"), MaxIDBytes)
		a.add(Resource{Kind: Environment, Env: envID, Alias: envAlias, Status: Bounded(str(env, "status"), MaxStatusBytes)})
		if shape.resources {
			for _, r := range append(resources("databases", "instance_id", Database), resources("static_storages", "bucket", StaticStorage)...) {
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
		_, err := Scan(raw, "a", nil, nil)
		if (err == nil) != json.Valid(raw) {
			t.Errorf("depth %d: scanAnswer = %v, json.Valid = %v", n, err, json.Valid(raw))
		}
	}
}
