package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// moduleDir is where the go command keeps a dependency's source.
func moduleDir(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", path).Output()
	if err != nil || len(strings.TrimSpace(string(out))) == 0 {
		t.Fatalf("go list -m %s: %v", path, err)
	}
	return strings.TrimSpace(string(out))
}

func readJSON(t *testing.T, file string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return v
}

func keys(v map[string]any) []string {
	var k []string
	for x := range v {
		k = append(k, x)
	}
	slices.Sort(k)
	return k
}

// subset reports the keys of sample that capture lacks.
func extraKeys(sample, capture map[string]any) []string {
	var extra []string
	for _, k := range keys(sample) {
		if _, ok := capture[k]; !ok {
			extra = append(extra, k)
		}
	}
	return extra
}

// agree checks that an AWS "dd/Mon/yyyy:hh:mm:ss +0000" time and its epoch
// milliseconds name the same instant.
func agree(t *testing.T, name, text string, epoch any) {
	t.Helper()
	ts, err := time.Parse("02/Jan/2006:15:04:05 -0700", text)
	if err != nil {
		t.Errorf("%s: time %q: %v", name, text, err)
		return
	}
	ms, _ := epoch.(float64)
	if got := time.UnixMilli(int64(ms)); !got.Equal(ts) {
		t.Errorf("%s: time %s but epoch %s", name, ts.UTC(), got.UTC())
	}
}

// TestSamplesMatchPlatforms compares events/ with what the platforms send,
// as their own libraries capture it: aws-lambda-go's testdata, scf-go-lib's
// API Gateway test event, and Tencent's documented Function URL event.
func TestSamplesMatchPlatforms(t *testing.T) {
	t.Parallel()
	awsDir := moduleDir(t, "github.com/aws/aws-lambda-go")
	ev := func(name string) map[string]any { return readJSON(t, filepath.Join(root, "events", name)) }

	for _, tc := range []struct {
		sample, capture string
		typ             any
	}{
		{"aws-rest-api-v1.json", "events/testdata/apigw-request.json", events.APIGatewayProxyRequest{}},
		{"aws-http-api-v2.json", "events/testdata/apigw-v2-request-iam.json", events.APIGatewayV2HTTPRequest{}},
		{"aws-function-url.json", "lambdaurl/testdata/function-url-request-with-headers-and-cookies-and-text-body.json", events.LambdaFunctionURLRequest{}},
	} {
		s, c := ev(tc.sample), readJSON(t, filepath.Join(awsDir, tc.capture))
		// A field the capture lacks is still real when aws-lambda-go's type
		// for the event declares it (captures predate some fields).
		rt := reflect.TypeOf(tc.typ)
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			if _, ok := c[name]; !ok {
				c[name] = nil
			}
		}
		if extra := extraKeys(s, c); len(extra) > 0 {
			t.Errorf("%s has fields %v that AWS's capture %s lacks", tc.sample, extra, filepath.Base(tc.capture))
		}
		if extra := extraKeys(m(s, "requestContext"), m(c, "requestContext")); len(extra) > 0 {
			t.Errorf("%s: requestContext has %v that AWS's capture lacks", tc.sample, extra)
		}
	}

	rest := ev("aws-rest-api-v1.json")
	agree(t, "aws-rest-api-v1.json", m(rest, "requestContext")["requestTime"].(string), m(rest, "requestContext")["requestTimeEpoch"])

	v2 := ev("aws-http-api-v2.json")
	agree(t, "aws-http-api-v2.json", m(v2, "requestContext")["time"].(string), m(v2, "requestContext")["timeEpoch"])
	// The sample's route is an AWS_IAM route in template.yaml, and such
	// routes always carry the caller's identity.
	if m(v2, "requestContext", "authorizer", "iam")["userArn"] == nil {
		t.Error("aws-http-api-v2.json: an AWS_IAM route's event carries requestContext.authorizer.iam")
	}
	if h := m(v2, "headers"); !strings.HasPrefix(h["authorization"].(string), "AWS4-HMAC-SHA256 ") {
		t.Error("aws-http-api-v2.json: an IAM route's request is SigV4-signed")
	}

	url := ev("aws-function-url.json")
	agree(t, "aws-function-url.json", m(url, "requestContext")["time"].(string), m(url, "requestContext")["timeEpoch"])
	textBody(t, "aws-function-url.json", url)
	if url["isBase64Encoded"] != false {
		t.Error("aws-function-url.json: AWS sends a JSON (text) body plain, isBase64Encoded false")
	}

	// SCF API Gateway: the same fields as scf-go-lib's captured event.
	scfDir := moduleDir(t, "github.com/tencentyun/scf-go-lib")
	src, err := os.ReadFile(filepath.Join(scfDir, "events", "apigw_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	_, capture, _ := strings.Cut(string(src), "data := `")
	capture, _, _ = strings.Cut(capture, "`")
	var apigw map[string]any
	if err := json.Unmarshal([]byte(capture), &apigw); err != nil {
		t.Fatalf("scf-go-lib's API Gateway event: %v", err)
	}
	sa := ev("scf-apigateway.json")
	if !slices.Equal(keys(sa), keys(apigw)) || !slices.Equal(keys(m(sa, "requestContext")), keys(m(apigw, "requestContext"))) {
		t.Errorf("scf-apigateway.json fields %v / %v, want scf-go-lib's capture's %v / %v",
			keys(sa), keys(m(sa, "requestContext")), keys(apigw), keys(m(apigw, "requestContext")))
	}

	// SCF Function URL (event function): apigw's fields minus
	// headerParameters, isBase64Encoded, pathParameters,
	// queryStringParameters and requestContext, per Tencent's documentation.
	fu := ev("scf-function-url.json")
	if got, want := keys(fu), []string{"body", "headers", "httpMethod", "path", "queryString"}; !slices.Equal(got, want) {
		t.Errorf("scf-function-url.json fields %v, want %v", got, want)
	}
	if m(fu, "headers")["x-scf-remote-addr"] == nil {
		t.Error("scf-function-url.json lacks the x-scf-remote-addr header SCF adds")
	}
	textBody(t, "scf-function-url.json", fu)
}

// textBody checks that a sample's body is JSON and its content-length true.
func textBody(t *testing.T, name string, ev map[string]any) {
	t.Helper()
	body, _ := ev["body"].(string)
	if !json.Valid([]byte(body)) {
		t.Errorf("%s: body %q is not plain JSON", name, body)
	}
	if cl := m(ev, "headers")["content-length"]; cl != strconv.Itoa(len(body)) {
		t.Errorf("%s: content-length %v, body %d bytes", name, cl, len(body))
	}
}
