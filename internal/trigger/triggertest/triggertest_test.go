package triggertest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/trigger"
	"github.com/wxcloudenv/wxcloudenv/internal/trigger/triggertest"
)

// TestEventParses: each shape's event is recognised as that trigger, with
// the method, path, query, headers and body of the request.
func TestEventParses(t *testing.T) {
	want := map[triggertest.Shape]trigger.Source{
		triggertest.RESTv1:         trigger.SourceAPIGatewayV1,
		triggertest.HTTPv2:         trigger.SourceAPIGatewayV2,
		triggertest.FunctionURL:    trigger.SourceAPIGatewayV2,
		triggertest.SCFFunctionURL: trigger.SourceSCFFunctionURL,
		triggertest.SCFAPIGateway:  trigger.SourceSCFAPIGateway,
	}
	for _, s := range triggertest.Shapes {
		t.Run(string(s), func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodPost, "http://fn.example/stage/envs?env=prod-1", strings.NewReader(`{"env":"prod-1"}`))
			r.Header.Set("X-Api-Key", "k")
			ev, err := triggertest.Event(s, r)
			if err != nil {
				t.Fatal(err)
			}
			req, err := trigger.Parse(ev)
			if err != nil {
				t.Fatalf("Parse: %v\n%s", err, ev)
			}
			if req.Kind != trigger.HTTP || req.Source != want[s] {
				t.Fatalf("parsed as %s/%s, want http/%s", req.Kind, req.Source, want[s])
			}
			h := req.HTTP
			if h.Method != http.MethodPost || h.Path != "/stage/envs" || h.Query.Get("env") != "prod-1" ||
				h.Header.Get("X-Api-Key") != "k" || string(h.Body) != `{"env":"prod-1"}` {
				t.Errorf("request = %s %s %v %v %q", h.Method, h.Path, h.Query, h.Header, h.Body)
			}
		})
	}
}

func TestDecodeAnswer(t *testing.T) {
	a, err := triggertest.DecodeAnswer([]byte(`{"statusCode":401,"headers":{"WWW-Authenticate":"Basic realm=\"x\""},"body":"aGk=","isBase64Encoded":true}`))
	if err != nil || a.Status != 401 || string(a.Body) != "hi" || a.Header.Get("Www-Authenticate") == "" {
		t.Fatalf("DecodeAnswer = %+v, %v", a, err)
	}
	if _, err := triggertest.DecodeAnswer([]byte(`{"ok":true}`)); err == nil {
		t.Error("an event that is not an HTTP answer decoded")
	}
}
