package trigger_test

import (
	"errors"
	"os"
	"path/filepath"
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
	tests := []struct {
		in      string
		want    trigger.Payload
		wantErr string
	}{
		{in: ``, want: trigger.Payload{}},
		{in: `null`, want: trigger.Payload{}},
		{in: `{}`, want: trigger.Payload{}},
		{in: `{"env":"test2-4a89da"}`, want: trigger.Payload{Env: "test2-4a89da"}},
		{in: `{"operations":["getenvinfo","getenvinfo"]}`, want: trigger.Payload{Operations: []string{"getenvinfo"}}},
		{in: `{"env":"` + strings.Repeat("a", 128) + `"}`, want: trigger.Payload{Env: strings.Repeat("a", 128)}},
		{in: `{"env":"` + strings.Repeat("a", 129) + `"}`, wantErr: "not 1 to 128"},
		{in: `{"env":"é"}`, wantErr: "not 1 to 128"},
		{in: `{"env":7}`, wantErr: "env must be a string"},
		{in: `{"operations":[]}`, wantErr: "empty"},
		{in: `{"operations":[""]}`, wantErr: "unknown operation"},
		{in: `{"extra":1}`, wantErr: "unknown field"},
		{in: `[]`, wantErr: "not a JSON object"},
		{in: `{} x`, wantErr: "after the JSON object"},
	}
	for _, tt := range tests {
		got, err := trigger.ParsePayload([]byte(tt.in))
		if tt.wantErr != "" {
			var pe *trigger.PayloadError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePayload(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.Env != tt.want.Env || strings.Join(got.Operations, ",") != strings.Join(tt.want.Operations, ",") {
			t.Errorf("ParsePayload(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
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
		`{"httpMethod":"POST","resource":"/","requestContext":{},"body":"x","isBase64Encoded":true}`} {
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
	for _, s := range []string{`{}`, `{"env":"a"}`, `{"operations":["getenvinfo","describecloudbaserunenvs"],"env":"test2-4a89da"}`, `{"env":""}`, `null`, `{"x":1}`} {
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
	})
}
