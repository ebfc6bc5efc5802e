package trigger

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// parseByMap is recognition as it was before the scan: the event decoded
// into a map (and its requestContext into another). The differential
// tests hold Parse to it.
func parseByMap(raw []byte) (*Request, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return &Request{Kind: Direct, Source: SourceDirect}, nil
	}
	if raw[0] != '{' {
		return nil, &PayloadError{Reason: "the event is not a JSON object"}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, &PayloadError{Reason: "the event is not valid JSON: " + jsonReason(err)}
	}
	has := func(k string) bool { v, ok := top[k]; return ok && string(v) != "null" }
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(top[k], &s)
		return s
	}
	var ctx map[string]json.RawMessage
	if has("requestContext") {
		_ = json.Unmarshal(top["requestContext"], &ctx)
	}
	ctxHas := func(k string) bool { v, ok := ctx[k]; return ok && string(v) != "null" }
	switch {
	case str("version") == "2.0" && ctxHas("http"):
		return parseV2(raw)
	case has("httpMethod") && ctxHas("serviceId"):
		return parseSCFHTTP(raw, SourceSCFAPIGateway)
	case has("httpMethod") && has("resource") && has("requestContext"):
		return parseV1(raw)
	case has("httpMethod") && has("path") && has("headers") && !has("requestContext"):
		return parseSCFHTTP(raw, SourceSCFFunctionURL)
	case has("detail-type") && has("source"):
		return parseEventBridge(str("source"), str("detail-type"))
	case str("Type") == "Timer" && has("TriggerName"):
		return parseTimer(raw)
	}
	p, err := parsePayloadByDecoder(raw)
	if err != nil {
		return nil, err
	}
	return &Request{Kind: Direct, Source: SourceDirect, Payload: p}, nil
}

// parsePayloadByDecoder is ParsePayload as it was before the scan: the
// members read with json.Decoder's tokens.
func parsePayloadByDecoder(raw []byte) (Payload, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return Payload{}, nil
	}
	if raw[0] != '{' {
		return Payload{}, &PayloadError{Reason: "the payload is not a JSON object"}
	}
	if !json.Valid(raw) {
		var v json.RawMessage
		if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&v); err != nil {
			return Payload{}, &PayloadError{Reason: jsonReason(err)}
		}
		return Payload{}, &PayloadError{Reason: "data after the JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return Payload{}, &PayloadError{Reason: jsonReason(err)}
	}
	var p Payload
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return Payload{}, &PayloadError{Reason: jsonReason(err)}
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return Payload{}, &PayloadError{Reason: jsonReason(err)}
		}
		if !slices.Contains(payloadKeys, key) {
			return Payload{}, unknownField(key)
		}
		if seen[key] {
			return Payload{}, &PayloadError{Reason: "the field " + key + " is given twice"}
		}
		seen[key] = true
		if string(v) == "null" {
			continue
		}
		if err := p.set(key, v); err != nil {
			return Payload{}, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return Payload{}, &PayloadError{Reason: jsonReason(err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return Payload{}, &PayloadError{Reason: "data after the JSON object"}
	}
	return p, nil
}

// sameOutcome compares a result and error with the decode-based ones.
func sameOutcome[T any](t *testing.T, what string, raw []byte, got, want T, gotErr, wantErr error) {
	t.Helper()
	if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
		t.Fatalf("%s(%q): error %v, the decode-based one %v", what, raw, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s(%q) = %+v, the decode-based one %+v", what, raw, got, want)
	}
}

// checkSame holds Parse and ParsePayload to the decode-based versions.
func checkSame(t *testing.T, raw []byte) {
	t.Helper()
	r, err := Parse(raw)
	wr, werr := parseByMap(raw)
	sameOutcome(t, "Parse", raw, r, wr, err, werr)
	p, err := ParsePayload(raw)
	wp, werr := parsePayloadByDecoder(raw)
	sameOutcome(t, "ParsePayload", raw, p, wp, err, werr)
}

// differentialInputs are the events, the fuzz corpora and shapes that
// stress the scan: escaped and repeated keys, nesting, strings holding
// braces and quotes, whitespace, invalid UTF-8, nulls.
func differentialInputs(t testing.TB) [][]byte {
	var in [][]byte
	files, _ := filepath.Glob("../../events/*.json")
	corpus, _ := filepath.Glob("testdata/fuzz/*/*")
	for _, file := range append(files, corpus...) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(string(b), "go test fuzz v1\n") {
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
				if s, ok := strings.CutPrefix(line, "[]byte("); ok {
					if u, err := strconv.Unquote(strings.TrimSuffix(s, ")")); err == nil {
						in = append(in, []byte(u))
					}
				}
			}
			continue
		}
		in = append(in, b)
	}
	for _, s := range []string{``, `null`, ` null `, `{}`, " {\n} ", `[]`, `"x"`, `{`, `{"a":}`, `{}x`, `{} {}`, `{"env":"a"}x`,
		`{"operations":["getenvinfo"]}`, `{"env":"a","env":"b"}`, `{"env":null,"env":"b"}`, `{"ENV":"a"}`, `{"x":1}`, `{"éx":1}`,
		`{"\u0065nv":"a"}`, `{"e\u006ev":"a","env":"b"}`, `{"en\"v":"a"}`, "{\"\xffenv\":1}", `{"env":"a\"}{,"}`, `{"env":"}"}`,
		`{"authorizers":"all","shard":"1/4"}`, `{"authorizers":["wxA"],"operations":["getenvinfo"]}`, `{"authorizers":{"a":[1,{"b":"]"}]}}`,
		`{"operations":[],"env":"","shard":null,"authorizers":null}`, `{ "env" : "a" , "operations" : [ "getenvinfo" ] }`,
		`{"Type":"Timer","TriggerName":"x","Message":"{\"env\":\"a\"}"}`, `{"Type":"Timer","TriggerName":null}`, `{"Type":"Ti\u006der","TriggerName":"t"}`,
		`{"T\u0079pe":"Timer","TriggerName":"t"}`, `{"Type":"Timer","Type":1,"TriggerName":"t"}`, `{"Type":["Timer"],"TriggerName":"t"}`,
		`{"httpMethod":"GET","path":"/envs","headers":{},"queryString":{"a":1}}`, `{"httpMethod":"GET","path":"/envs","headers":{},"requestContext":null}`,
		`{"version":"2.0","requestContext":{"http":{}}}`, `{"version":"2.0","requestContext":{"http":null}}`, `{"version":"2.0","requestContext":[{"http":{}}]}`,
		`{"version":"2.0","requestContext":"{\"http\":{}}"}`, `{"version":2.0,"requestContext":{"http":{}}}`, `{"version":"2.0","requestContext":{"ht\u0074p":{}}}`,
		`{"version":"2.0","requestContext":{"http":{},"http":null}}`, `{"version":"2.0","requestContext":{"a":{"http":1}}}`,
		`{"httpMethod":"POST","resource":"/","requestContext":{},"body":"x","isBase64Encoded":true}`,
		`{"httpMethod":"POST","requestContext":{"serviceId":"s"},"path":"/envs","queryStringParameters":{"env":"a"}}`,
		`{"detail-type":"Scheduled Event","source":"aws.events"}`, `{"detail-type":"x","source":"aws.scheduler"}`, `{"detail-type":"x","source":"other"}`,
		`{"detail-type":"Scheduled Event","source":"aws.ev\u0065nts"}`, `{"detail-type":null,"source":"aws.events"}`, `{"source":"aws.events","detail-type":1}`,
		`{"version":"2.0","rawQueryString":"env=a%zz","requestContext":{"http":{"method":"GET","path":"/envs"}}}`,
		"{\"env\":\"a\"}\u00a0", "\u00a0{\"env\":\"a\"}", "{\"env\":\"\xff\"}", `{"shard":"3/8","authorizers":"all","operations":["describecloudbaserunenvs","getenvinfo"]}`,
	} {
		in = append(in, []byte(s))
	}
	return in
}

// TestScanMatchesDecode: recognition and the payload reader by scan give
// what the decode-based versions gave, results and errors alike.
func TestScanMatchesDecode(t *testing.T) {
	t.Parallel()
	for _, raw := range differentialInputs(t) {
		checkSame(t, raw)
	}
}

// FuzzScanMatchesDecode is TestScanMatchesDecode on any bytes.
func FuzzScanMatchesDecode(f *testing.F) {
	for _, raw := range differentialInputs(f) {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkSame(t, raw) })
}
