package invoke_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	robotsAPIKey   = "robots-route-api-key-6d2f"
	robotsWeComKey = "robots-route-wecom-key-1a9c"
	robotsFeiToken = "robots-route-feishu-hook-44e0"
	robotsWeCom    = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + robotsWeComKey
	robotsFeishu   = "https://open.feishu.cn/open-apis/bot/v2/hook/" + robotsFeiToken
)

// httpShapes are the repository's HTTP trigger events (events/), by file.
var httpShapes = []string{"aws-rest-api-v1.json", "aws-http-api-v2.json", "aws-function-url.json", "scf-apigateway.json", "scf-function-url.json"}

// shapeEvent rewrites an HTTP trigger event of file to carry method, path
// (under the shape's own stage or base path), headers and body.
func shapeEvent(t *testing.T, file, method, path string, headers map[string]string, body string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readFile(t, filepath.Join("..", "..", "events", file)), &ev); err != nil {
		t.Fatal(err)
	}
	h, _ := ev["headers"].(map[string]any)
	for k := range h {
		if strings.EqualFold(k, "authorization") {
			delete(h, k) // the sample's own (IAM) signature
		}
	}
	for k, v := range headers {
		h[strings.ToLower(k)] = v
	}
	rc, _ := ev["requestContext"].(map[string]any)
	switch file {
	case "aws-rest-api-v1.json":
		ev["path"], ev["httpMethod"], ev["resource"] = path, method, path
		rc["httpMethod"], rc["path"], rc["resourcePath"] = method, "/Prod"+path, path
		mv := map[string]any{}
		for k, v := range h {
			mv[k] = []any{v}
		}
		ev["multiValueHeaders"] = mv
		ev["queryStringParameters"], ev["multiValueQueryStringParameters"] = nil, nil
	case "aws-http-api-v2.json", "aws-function-url.json":
		ev["rawPath"], ev["rawQueryString"], ev["routeKey"] = path, "", "$default"
		delete(ev, "pathParameters")
		rc["routeKey"] = "$default"
		hp, _ := rc["http"].(map[string]any)
		hp["method"], hp["path"] = method, path
	case "scf-apigateway.json":
		ev["path"], ev["httpMethod"] = "/wxcloudenv"+path, method
		ev["queryString"] = map[string]any{}
	case "scf-function-url.json":
		ev["path"], ev["httpMethod"] = path, method
	}
	ev["body"] = body
	ev["isBase64Encoded"] = false
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRobotsRoutes: PUT, GET and DELETE …/authorizers/{appid}/robots on
// every HTTP trigger shape, with the key as Bearer, X-Api-Key or Basic;
// 403 without a key configured, 401 without the key, then 405, 413 and
// every 400 in order, none of which changes anything; no robot URL or key
// in an answer or a log line.
func TestRobotsRoutes(t *testing.T) {
	t.Parallel()
	bearer := map[string]string{"Authorization": "Bearer " + robotsAPIKey}
	xkey := map[string]string{"X-Api-Key": robotsAPIKey}
	basic := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("ops:"+robotsAPIKey))}
	const path = "/authorizers/wxowner0001/robots"
	put := `{"urls":["` + robotsWeCom + `","` + robotsFeishu + `"]}`
	for _, file := range httpShapes {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			var outputs strings.Builder
			send := func(hs *harness, method, p string, headers map[string]string, body string) decoded {
				t.Helper()
				out, err := hs.invoke(t, shapeEvent(t, file, method, p, headers, body), 10*time.Second)
				if err != nil {
					t.Fatalf("%s %s: %v", method, p, err)
				}
				outputs.Write(out)
				return decodeMaybeEmpty(t, out)
			}
			robotsOf := func(d decoded) string {
				var kinds []string
				list, _ := d.body["robots"].([]any)
				for _, r := range list {
					m, _ := r.(map[string]any)
					kinds = append(kinds, m["kind"].(string)+" "+m["host"].(string))
				}
				return strings.Join(kinds, ", ")
			}

			// No key configured: 403, naming the variable.
			open := newHarness(t, srv, staticEnv(srv))
			d := send(open, http.MethodPut, path, bearer, put)
			if msg, _ := errOf(d)["message"].(string); d.status != http.StatusForbidden || errOf(d)["code"] != "forbidden" || !strings.Contains(msg, "WXCLOUDENV_API_KEY") {
				t.Fatalf("without a key configured: %d %v", d.status, d.body)
			}
			outputs.WriteString(open.log.String())

			e := staticEnv(srv)
			e["WXCLOUDENV_API_KEY"] = robotsAPIKey
			hs := newHarness(t, srv, e)

			big := `{"urls":["` + robotsWeCom + `"],"pad":"` + strings.Repeat("x", 70<<10) + `"}`
			rejected := []struct {
				name, method, path string
				headers            map[string]string
				body               string
				status             int
				code, field        string
			}{
				{"no key", http.MethodPut, path, nil, put, 401, "unauthorized", ""},
				{"wrong key", http.MethodPut, path, map[string]string{"X-Api-Key": "guess"}, put, 401, "unauthorized", ""},
				{"wrong basic", http.MethodGet, path, map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("ops:guess"))}, "", 401, "unauthorized", ""},
				{"post", http.MethodPost, path, bearer, put, 405, "method_not_allowed", ""},
				{"405 before 413", http.MethodPost, path, bearer, big, 405, "method_not_allowed", ""},
				{"too large", http.MethodPut, path, bearer, big, 413, "payload_too_large", ""},
				{"bad appid", http.MethodPut, "/authorizers/wx.bad/robots", bearer, put, 400, "bad_request", "appid"},
				{"empty appid", http.MethodGet, "/authorizers//robots", bearer, "", 400, "bad_request", "appid"},
				{"not JSON", http.MethodPut, path, bearer, `{"urls":`, 400, "bad_request", "body"},
				{"unknown field", http.MethodPut, path, xkey, `{"urls":["` + robotsWeCom + `"],"secret":"s"}`, 400, "bad_request", "secret"},
				{"no urls", http.MethodPut, path, bearer, `{"urls":[]}`, 400, "bad_request", "urls"},
				{"too many", http.MethodPut, path, bearer, `{"urls":["` + strings.Repeat(robotsWeCom+`x","`, 5) + robotsWeCom + `"]}`, 400, "bad_request", "urls"},
				{"not a robot", http.MethodPut, path, basic, `{"urls":["https://example.com/hook?key=` + robotsWeComKey + `"]}`, 400, "bad_request", "urls[0]"},
				{"second bad", http.MethodPut, path, bearer, `{"urls":["` + robotsWeCom + `","https://oapi.dingtalk.com/robot/send"]}`, 400, "bad_request", "urls[1]"},
				{"the same twice", http.MethodPut, path, bearer, `{"urls":["` + robotsWeCom + `","` + robotsWeCom + `"]}`, 400, "bad_request", "urls[1]"},
			}
			for _, r := range rejected {
				d := send(hs, r.method, r.path, r.headers, r.body)
				if d.status != r.status || errOf(d)["code"] != r.code || r.field != "" && errOf(d)["field"] != r.field {
					t.Errorf("%s: %d %v, want %d %s naming %q", r.name, d.status, d.body, r.status, r.code, r.field)
				}
				if r.status == 401 && d.headers["WWW-Authenticate"] == "" {
					t.Errorf("%s: no WWW-Authenticate challenge", r.name)
				}
				// Nothing changed.
				if g := send(hs, http.MethodGet, path, bearer, ""); g.status != 200 || robotsOf(g) != "" {
					t.Fatalf("after %s: %d %v", r.name, g.status, g.body)
				}
			}

			d = send(hs, http.MethodPut, path, bearer, put)
			if d.status != 200 || d.body["authorizer"] != "wxowner0001" || robotsOf(d) != "wecom qyapi.weixin.qq.com, feishu open.feishu.cn" {
				t.Fatalf("PUT: %d %v", d.status, d.body)
			}
			for name, h := range map[string]map[string]string{"bearer": bearer, "x-api-key": xkey, "basic": basic} {
				d = send(hs, http.MethodGet, path+"/", h, "")
				if d.status != 200 || robotsOf(d) != "wecom qyapi.weixin.qq.com, feishu open.feishu.cn" {
					t.Errorf("GET with %s: %d %v", name, d.status, d.body)
				}
			}
			// A refused PUT keeps what was there.
			send(hs, http.MethodPut, path, bearer, `{"urls":["https://example.com/x"]}`)
			if d = send(hs, http.MethodGet, path, bearer, ""); robotsOf(d) != "wecom qyapi.weixin.qq.com, feishu open.feishu.cn" {
				t.Errorf("a refused PUT changed the robots: %v", d.body)
			}
			if d = send(hs, http.MethodGet, "/authorizers/wxother/robots", bearer, ""); d.status != 200 || robotsOf(d) != "" {
				t.Errorf("another authorizer: %d %v", d.status, d.body)
			}
			if d = send(hs, http.MethodDelete, path, basic, ""); d.status != http.StatusNoContent {
				t.Errorf("DELETE: %d %v", d.status, d.body)
			}
			if d = send(hs, http.MethodGet, path, bearer, ""); d.status != 200 || robotsOf(d) != "" {
				t.Errorf("after DELETE: %d %v", d.status, d.body)
			}

			outputs.WriteString(hs.log.String())
			for _, s := range []string{robotsWeComKey, robotsFeiToken, robotsAPIKey} {
				if strings.Contains(outputs.String(), s) {
					t.Errorf("%q reached an answer or a log line", s)
				}
			}
			if !strings.Contains(hs.log.String(), `"owner robots"`) {
				t.Errorf("no log line for the robots routes:\n%s", hs.log.String())
			}
		})
	}
}

// errOf is an error answer's error object.
func errOf(d decoded) map[string]any {
	e, _ := d.body["error"].(map[string]any)
	return e
}

// decodeMaybeEmpty is decode that also takes an HTTP answer with no body
// (204).
func decodeMaybeEmpty(t *testing.T, out []byte) decoded {
	t.Helper()
	var m struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Body       string            `json:"body"`
	}
	if err := json.Unmarshal(out, &m); err == nil && m.StatusCode != 0 && m.Body == "" {
		return decoded{status: m.StatusCode, headers: m.Headers}
	}
	return decode(t, out)
}
