package trigger_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/trigger"
)

func TestParseEvents(t *testing.T) {
	t.Parallel()
	want := map[string]trigger.Source{
		"aws-schedule.json":     trigger.SourceEventBridge,
		"aws-scheduler.json":    trigger.SourceScheduler,
		"aws-rest-api-v1.json":  trigger.SourceAPIGatewayV1,
		"aws-http-api-v2.json":  trigger.SourceAPIGatewayV2,
		"aws-function-url.json": trigger.SourceAPIGatewayV2,
		"direct.json":           trigger.SourceDirect,
		"scf-timer.json":        trigger.SourceSCFTimer,
		"scf-function-url.json": trigger.SourceSCFFunctionURL,
		"scf-apigateway.json":   trigger.SourceSCFAPIGateway,
	}
	for file, src := range want {
		raw, err := os.ReadFile(filepath.Join("../../events", file))
		if err != nil {
			t.Fatal(err)
		}
		r, err := trigger.Parse(raw)
		if err != nil {
			t.Errorf("Parse(%s): %v", file, err)
			continue
		}
		if r.Source != src {
			t.Errorf("Parse(%s).Source = %s, want %s", file, r.Source, src)
		}
	}
}

func TestParseHTTP(t *testing.T) {
	t.Parallel()
	raw, _ := os.ReadFile("../../events/aws-function-url.json")
	r, err := trigger.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if r.HTTP.Method != "POST" || r.HTTP.Path != "/envs" || string(r.HTTP.Body) != `{"operations":["getenvinfo"],"env":"prod-7c21be"}` ||
		r.HTTP.Header.Get("Content-Type") != "application/json" {
		t.Errorf("HTTP = %+v, body %s", r.HTTP, r.HTTP.Body)
	}
	raw, _ = os.ReadFile("../../events/scf-apigateway.json")
	r, _ = trigger.Parse(raw)
	if r.HTTP.Path != "/wxcloudenv/envs/getenvinfo" || r.HTTP.Query.Get("env") != "test2-4a89da" {
		t.Errorf("SCF API Gateway HTTP = %+v", r.HTTP)
	}
	// SCF query strings carry repeated keys as lists and bare flags as true.
	r, err = trigger.Parse([]byte(`{"httpMethod":"GET","path":"/envs","headers":{},"queryString":{"operations":["getenvinfo","describecloudbaserunenvs"],"verbose":true}}`))
	if err != nil || len(r.HTTP.Query["operations"]) != 2 {
		t.Errorf("SCF list query = %+v, %v", r, err)
	}
}

func TestParsePayload(t *testing.T) {
	t.Parallel()
	many := make([]string, trigger.MaxAuthorizers+1)
	for i := range many {
		many[i] = fmt.Sprintf("wx%06d", i)
	}
	manyJSON, _ := json.Marshal(map[string]any{"authorizers": many})
	maxJSON, _ := json.Marshal(map[string]any{"authorizers": many[:trigger.MaxAuthorizers]})
	tests := []struct {
		in      string
		want    trigger.Payload
		wantErr string
	}{
		{in: ``, want: trigger.Payload{}},
		{in: `null`, want: trigger.Payload{}},
		{in: `{}`, want: trigger.Payload{}},
		{in: `{"env":"test2-4a89da"}`, want: trigger.Payload{Env: "test2-4a89da"}},
		{in: `{"env":null,"operations":null}`, want: trigger.Payload{}},
		{in: `{"operations":["getenvinfo","getenvinfo"]}`, wantErr: "operation getenvinfo is listed twice"},
		{in: `{"env":"` + strings.Repeat("a", 128) + `"}`, want: trigger.Payload{Env: strings.Repeat("a", 128)}},
		{in: `{"env":"` + strings.Repeat("a", 129) + `"}`, wantErr: "not 1 to 128"},
		{in: `{"env":"é"}`, wantErr: "not 1 to 128"},
		{in: `{"env":7}`, wantErr: "env must be a string"},
		{in: `{"operations":[]}`, wantErr: "empty"},
		{in: `{"operations":[""]}`, wantErr: "operation 1 of 1: unknown operation (not shown"},
		{in: `{"operations":["GetEnvInfo"]}`, wantErr: `operation 1 of 1: unknown operation "GetEnvInfo": names are case-sensitive, write getenvinfo`},
		{in: `{"operations":["getenvinfo","describecloudbaserunenv"]}`, wantErr: `operation 2 of 2: unknown operation "describecloudbaserunenv": did you mean describecloudbaserunenvs?`},
		{in: `{"operations":["0123456789abcdef0123456789abcdef"]}`, wantErr: "unknown operation (not shown"},
		{in: `{"operations":["getenvinfo","listall"]}`, wantErr: `unknown operation "listall"`},
		{in: `{"operations":"getenvinfo"}`, wantErr: "operations must be a list of strings"},
		{in: `{"extra":1}`, wantErr: `unknown field "extra"; a payload has only`},
		{in: `{"Extra9":1}`, wantErr: "unknown field; a payload has only"},
		{in: `{"ENV":"a"}`, wantErr: `unknown field "ENV"; keys are case-sensitive: write "env"`},
		{in: `{"Operations":["getenvinfo"]}`, wantErr: `write "operations"`},
		{in: `{"env":"a","env":"b"}`, wantErr: "env is given twice"},
		{in: `[]`, wantErr: "not a JSON object"},
		{in: `{} x`, wantErr: "after the JSON object"},
		{in: `{"env":"a"`, wantErr: "JSON"},
		{in: `{"authorizers":"all"}`, want: trigger.Payload{All: true}},
		{in: `{"authorizers":"ALL"}`, wantErr: `authorizers must be "all" or a list`},
		{in: `{"authorizers":["wxA","wx_b1"]}`, want: trigger.Payload{Authorizers: []string{"wxA", "wx_b1"}}},
		{in: `{"authorizers":[]}`, wantErr: "the list is empty"},
		{in: `{"authorizers":["wxA","wxA"]}`, wantErr: "appid 2 of 2 repeats"},
		{in: `{"authorizers":["wx-A"]}`, wantErr: "appid 1 of 1 is not 1 to 64"},
		{in: `{"authorizers":["` + strings.Repeat("w", 65) + `"]}`, wantErr: "appid 1 of 1 is not 1 to 64"},
		{in: `{"authorizers":7}`, wantErr: `authorizers must be "all" or a list`},
		{in: string(maxJSON), want: trigger.Payload{Authorizers: many[:trigger.MaxAuthorizers]}},
		{in: string(manyJSON), wantErr: "more than 10000 appids"},
		{in: `{"shard":"0/1"}`, want: trigger.Payload{Shard: trigger.Shard{K: 0, N: 1}}},
		{in: `{"shard":"1023/1024"}`, want: trigger.Payload{Shard: trigger.Shard{K: 1023, N: 1024}}},
		{in: `{"shard":"3/3"}`, wantErr: "outside 0 ≤ K < N ≤ 1024"},
		{in: `{"shard":"0/1025"}`, wantErr: "outside"},
		{in: `{"shard":"0/0"}`, wantErr: "outside"},
		{in: `{"shard":"-1/4"}`, wantErr: `shard must be "K/N"`},
		{in: `{"shard":"1 /4"}`, wantErr: `shard must be "K/N"`},
		{in: `{"shard":"1/4/5"}`, wantErr: `shard must be "K/N"`},
		{in: `{"shard":4}`, wantErr: `shard must be a string`},
	}
	for _, tt := range tests {
		got, err := trigger.ParsePayload([]byte(tt.in))
		name := tt.in
		if len(name) > 80 {
			name = name[:80]
		}
		if tt.wantErr != "" {
			var pe *trigger.PayloadError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePayload(%s) error = %v, want %q", name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) && !(len(got.Authorizers) == len(tt.want.Authorizers) && len(got.Authorizers) > 0 &&
			strings.Join(got.Authorizers, ",") == strings.Join(tt.want.Authorizers, ",")) {
			t.Errorf("ParsePayload(%s) = %+v, %v; want %+v", name, got, err, tt.want)
		}
	}
}

// TestErrorsDoNotEcho: a value that could be a secret never comes back in
// an error, whichever field it was put in.
func TestErrorsDoNotEcho(t *testing.T) {
	t.Parallel()
	const secret = "SECRETtoken0123456789abcdef"
	for _, in := range []string{
		`{"env":"` + secret + `!"}`,
		`{"operations":["` + secret + `"]}`,
		`{"` + secret + `":1}`,
		`{"authorizers":["wxA","` + secret + `-"]}`,
		`{"authorizers":"` + secret + `"}`,
		`{"shard":"` + secret + `"}`,
		`{"detail-type":"` + secret + `","source":"` + secret + `"}`,
		`{"Type":"Timer","TriggerName":"t","Message":"{\"env\":\"` + secret + `!\"}"}`,
	} {
		_, err := trigger.Parse([]byte(in))
		if err == nil {
			t.Errorf("Parse(%s) accepted", in)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("Parse(%s) error %q echoes the value", in, err)
		}
	}
	for _, q := range []string{"authorizers=" + secret + "-", "shard=" + secret, "env=" + secret + "!", "operations=" + secret} {
		v, _ := url.ParseQuery(q)
		if _, err := trigger.ParseQuery(v); err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("ParseQuery(%s) error = %v", q, err)
		}
	}
}

// TestParseQuery reads the query form of the payload fields.
func TestParseQuery(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		q       string
		want    trigger.Payload
		wantErr string
	}{
		{q: "", want: trigger.Payload{}},
		{q: "authorizers=all&shard=2/16", want: trigger.Payload{All: true, Shard: trigger.Shard{K: 2, N: 16}}},
		{q: "authorizers=wxA,wxB", want: trigger.Payload{Authorizers: []string{"wxA", "wxB"}}},
		{q: "authorizers=wxA,%20wxB", want: trigger.Payload{Authorizers: []string{"wxA", "wxB"}}},
		{q: "operations=getenvinfo&operations=describecloudbaserunenvs&env=e1", want: trigger.Payload{Operations: []string{"getenvinfo", "describecloudbaserunenvs"}, Env: "e1"}},
		{q: "authorizers=wxA,wxA", wantErr: "repeats"},
		{q: "authorizers=wxA,,wxB", wantErr: "appid 2 of 3"},
		{q: "authorizers=", wantErr: "appid 1 of 1"},
		{q: "authorizers=All", wantErr: "lower case"},
		{q: "authorizers=all&authorizers=wxA", wantErr: "give authorizers once"},
		{q: "shard=1/2&shard=0/2", wantErr: "give shard once"},
		{q: "shard=2/2", wantErr: "outside"},
		{q: "operations=getenvinfo,getenvinfo", wantErr: "listed twice"},
		{q: "authorizers=" + strings.Repeat("wx,", trigger.MaxAuthorizers) + "wx", wantErr: "more than 10000"},
	} {
		v, err := url.ParseQuery(tt.q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := trigger.ParseQuery(v)
		name := tt.q
		if len(name) > 60 {
			name = name[:60]
		}
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseQuery(%s) error = %v, want %q", name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseQuery(%s) = %+v, %v; want %+v", name, got, err, tt.want)
		}
	}
}

// TestBadRawQueryString: an HTTP API query that does not parse is marked
// for a 400, not read as the defaults.
func TestBadRawQueryString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw string
		bad bool
	}{{"env=a%zz", true}, {"env=a;operations=getenvinfo", true}, {"env=a&operations=getenvinfo", false}} {
		ev := `{"version":"2.0","rawPath":"/envs","rawQueryString":"` + tc.raw + `","queryStringParameters":{"env":"a"},` +
			`"requestContext":{"http":{"method":"GET","path":"/envs"}}}`
		r, err := trigger.Parse([]byte(ev))
		if err != nil || r.HTTP == nil {
			t.Fatalf("Parse(%s): %v", tc.raw, err)
		}
		if (r.HTTP.BadQuery != nil) != tc.bad || (tc.bad && len(r.HTTP.Query) != 0) {
			t.Errorf("rawQueryString %q: BadQuery %v, query %v", tc.raw, r.HTTP.BadQuery, r.HTTP.Query)
		}
	}
}

// FuzzParse feeds arbitrary bytes to trigger recognition: it never panics,
// fails only with a *PayloadError, and what it recognises is consistent.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../events/*.json")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	for _, s := range []string{``, `null`, `{}`, `[]`, `{"operations":["getenvinfo"]}`, `{"Type":"Timer","TriggerName":"x","Message":"{\"env\":\"a\"}"}`,
		`{"httpMethod":"GET","path":"/envs","headers":{},"queryString":{"a":1}}`, `{"version":"2.0","requestContext":{"http":{}}}`,
		`{"httpMethod":"POST","resource":"/","requestContext":{},"body":"x","isBase64Encoded":true}`,
		`{"ENV":"a"}`, `{"authorizers":"all","shard":"1/4"}`, `{"authorizers":["wxA"],"operations":["getenvinfo"]}`,
		`{"version":"2.0","rawQueryString":"env=a%zz","requestContext":{"http":{"method":"GET","path":"/envs"}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := trigger.Parse(raw)
		if err != nil {
			var pe *trigger.PayloadError
			if !errors.As(err, &pe) || err.Error() == "" {
				t.Fatalf("Parse error %T %v is not a *PayloadError", err, err)
			}
			return
		}
		switch r.Kind {
		case trigger.HTTP:
			if r.HTTP == nil {
				t.Fatal("HTTP trigger without a request")
			}
		case trigger.Schedule, trigger.Direct:
			for _, op := range r.Payload.Operations {
				if op != "getenvinfo" && op != "describecloudbaserunenvs" {
					t.Fatalf("unknown operation %q accepted", op)
				}
			}
		default:
			t.Fatalf("unknown kind %q", r.Kind)
		}
	})
}

// FuzzParsePayload checks the direct payload parser.
func FuzzParsePayload(f *testing.F) {
	for _, s := range []string{`{}`, `{"env":"a"}`, `{"operations":["getenvinfo","describecloudbaserunenvs"],"env":"test2-4a89da"}`, `{"env":""}`, `null`, `{"x":1}`,
		`{"ENV":"a"}`, `{"env":"a","env":"b"}`, `{"authorizers":"all","shard":"3/8"}`, `{"authorizers":["wxA","wx_b1"]}`, `{"authorizers":["wxA","wxA"]}`,
		`{"shard":"8/8"}`, `{"shard":"0/1025"}`, `{"operations":["getenvinfo","getenvinfo"]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := trigger.ParsePayload(raw)
		if err != nil {
			return
		}
		if p.Env != "" && trigger.CheckEnv(p.Env) != nil {
			t.Fatalf("invalid env %q accepted", p.Env)
		}
		if p.Shard.N != 0 && (p.Shard.K < 0 || p.Shard.K >= p.Shard.N || p.Shard.N > trigger.MaxShards) {
			t.Fatalf("invalid shard %+v accepted", p.Shard)
		}
		seen := map[string]bool{}
		for _, id := range p.Authorizers {
			if !trigger.ValidAppID(id) || seen[id] {
				t.Fatalf("invalid or repeated appid %q accepted", id)
			}
			seen[id] = true
		}
		if p.All && p.Authorizers != nil {
			t.Fatal("both all and a list")
		}
		// Keys match exactly: a payload that parses has only known keys.
		var top map[string]json.RawMessage
		if json.Unmarshal(raw, &top) == nil {
			for k := range top {
				switch k {
				case "operations", "env", "authorizers", "shard":
				default:
					t.Fatalf("key %q accepted", k)
				}
			}
		}
	})
}

// FuzzParseQuery checks the query form: what it accepts is valid, and an
// error never echoes a secret-like value.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "authorizers=all", "authorizers=wxA,wxB&shard=0/2", "shard=1024/1024", "authorizers=wxA,wxA",
		"operations=getenvinfo,describecloudbaserunenvs&env=prod-1", "env=a&env=b", "authorizers=SECRET9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := trigger.ParseQuery(q)
		if err != nil {
			for _, vs := range q {
				for _, v := range vs {
					// Secret-like: long, with letters, and digits or capitals.
					if len(v) >= 8 && strings.ContainsAny(strings.ToLower(v), "abcdefghijklmnopqrstuvwxyz") &&
						strings.ContainsAny(v, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") && strings.Contains(err.Error(), v) {
						t.Fatalf("error %q echoes %q", err, v)
					}
				}
			}
			return
		}
		if p.Shard.N != 0 && (p.Shard.K >= p.Shard.N || p.Shard.N > trigger.MaxShards) {
			t.Fatalf("shard %+v accepted", p.Shard)
		}
		if len(p.Authorizers) > trigger.MaxAuthorizers || (p.All && p.Authorizers != nil) {
			t.Fatalf("authorizers %d, all %v", len(p.Authorizers), p.All)
		}
		for _, id := range p.Authorizers {
			if !trigger.ValidAppID(id) {
				t.Fatalf("appid %q accepted", id)
			}
		}
	})
}
