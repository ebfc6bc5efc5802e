package queue

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
)

// fakeSCF is SCF's Invoke API: it checks every request's TC3-HMAC-SHA256
// signature by Tencent's documented algorithm, written here independently
// of the SDK that signs, so that the two must agree.
type fakeSCF struct {
	t       *testing.T
	id, key string
	mu      sync.Mutex
	got     []map[string]any
	headers []http.Header
	fail    []string // error codes to answer, in order
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

func sha256Hex(s string) string {
	b := sha256.Sum256([]byte(s))
	return hex.EncodeToString(b[:])
}

// tc3 computes the Authorization header Tencent expects for r and body.
func (f *fakeSCF) tc3(r *http.Request, body []byte) string {
	ts := r.Header.Get("X-TC-Timestamp")
	var sec int64
	fmt.Sscan(ts, &sec)
	date := time.Unix(sec, 0).UTC().Format("2006-01-02")
	canonical := strings.Join([]string{r.Method, "/", "",
		"content-type:" + r.Header.Get("Content-Type") + "\nhost:" + r.Host + "\n",
		"content-type;host", sha256Hex(string(body))}, "\n")
	scope := date + "/scf/tc3_request"
	toSign := strings.Join([]string{"TC3-HMAC-SHA256", ts, scope, sha256Hex(canonical)}, "\n")
	k := hmacSHA256(hmacSHA256(hmacSHA256([]byte("TC3"+f.key), date), "scf"), "tc3_request")
	return "TC3-HMAC-SHA256 Credential=" + f.id + "/" + scope + ", SignedHeaders=content-type;host, Signature=" + hex.EncodeToString(hmacSHA256(k, toSign))
}

func (f *fakeSCF) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	answer := func(v any) { json.NewEncoder(w).Encode(map[string]any{"Response": v}) }
	if want := f.tc3(r, body); r.Header.Get("Authorization") != want {
		answer(map[string]any{"Error": map[string]string{"Code": "AuthFailure.SignatureFailure", "Message": "signature mismatch"}, "RequestId": "r0"})
		f.t.Errorf("signature %q, want %q", r.Header.Get("Authorization"), want)
		return
	}
	var params map[string]any
	json.Unmarshal(body, &params)
	f.mu.Lock()
	f.got = append(f.got, params)
	f.headers = append(f.headers, r.Header.Clone())
	var code string
	if len(f.fail) > 0 {
		code, f.fail = f.fail[0], f.fail[1:]
	}
	f.mu.Unlock()
	if code != "" {
		answer(map[string]any{"Error": map[string]string{"Code": code, "Message": "refused"}, "RequestId": "r1"})
		return
	}
	answer(map[string]any{"Result": map[string]any{"FunctionRequestId": "f1", "RetMsg": "async"}, "RequestId": "r2"})
}

func startFakeSCF(t *testing.T, fail ...string) (*fakeSCF, *SCF) {
	f := &fakeSCF{t: t, id: "AKIDscftest", key: "scf-test-secret-key", fail: fail}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	env := map[string]string{"TENCENTCLOUD_SECRETID": f.id, "TENCENTCLOUD_SECRETKEY": f.key,
		"TENCENTCLOUD_SESSIONTOKEN": "scf-session-token", "TENCENTCLOUD_REGION": "ap-shanghai"}
	s, err := NewSCF("default", "wxcloudenv", "", srv.URL, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return f, s
}

func TestSCFInvoke(t *testing.T) {
	f, s := startFakeSCF(t)
	rec := &Runs{Store: memoryAt(tick), Prefix: "t:"}
	p := &Planner{Runs: rec, Sender: s, Batch: 100}
	got, err := p.Plan(context.Background(), tick, &pagedFleet{listed: appids("wx", 1050), page: 500})
	if err != nil {
		t.Fatal(err)
	}
	if got.Batches != 11 || len(f.got) != 11 {
		t.Fatalf("planned %+v, %d invocations", got, len(f.got))
	}
	seen := map[int]bool{}
	for i, params := range f.got {
		h := f.headers[i]
		if h.Get("X-TC-Action") != "Invoke" || h.Get("X-TC-Version") != "2018-04-16" || h.Get("X-TC-Region") != "ap-shanghai" ||
			h.Get("X-TC-Token") != "scf-session-token" {
			t.Fatalf("headers %v", h)
		}
		if params["InvocationType"] != "Event" || params["Namespace"] != "default" || params["FunctionName"] != "wxcloudenv" {
			t.Fatalf("params %v", params)
		}
		cc, _ := params["ClientContext"].(string)
		b, err := ParseBatch([]byte(cc))
		if err != nil {
			t.Fatalf("ClientContext is not a batch: %v", err)
		}
		if d, ok := Detect([]byte(cc)); !ok || d.Source != SourceSCF {
			t.Fatal("the async event a worker gets is not recognised")
		}
		seen[b.Batch] = true
	}
	if len(seen) != 11 {
		t.Fatalf("batches %v", seen)
	}
}

func TestSCFErrors(t *testing.T) {
	// A retryable error is tried again; one that is not fails with its code.
	f, s := startFakeSCF(t, "InternalError")
	if err := s.Send(context.Background(), []Message{{ID: "0", Body: []byte(`{"run":"20261206T120000Z","batch":0,"authorizers":["wxA"]}`)}}); err != nil {
		t.Fatalf("a retryable error was not retried: %v", err)
	}
	if len(f.got) != 2 {
		t.Fatalf("%d calls, want 2", len(f.got))
	}
	_, s = startFakeSCF(t, "ResourceNotFound.Function")
	err := s.Send(context.Background(), []Message{{ID: "0", Body: []byte(`{}`)}})
	var se *SendError
	if !errors.As(err, &se) || se.Code != "ResourceNotFound.Function" {
		t.Fatalf("err = %v, want SendError with the code", err)
	}
	if strings.Contains(err.Error(), "scf-test-secret-key") || strings.Contains(err.Error(), "scf-session-token") {
		t.Fatalf("the error holds a credential: %v", err)
	}
}

func TestSCFNeedsCredentials(t *testing.T) {
	_, err := NewSCF("default", "fn", "", config.DefaultSCFEndpoint, func(string) (string, bool) { return "", false }, time.Second)
	if err == nil || !strings.Contains(err.Error(), "TENCENTCLOUD_SECRETID") {
		t.Fatalf("err = %v", err)
	}
}
