package queue

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
)

// TestSCFInvokeErrors: which failures are tried again (three attempts in
// all) and which are not, and the code each ends with.
func TestSCFInvokeErrors(t *testing.T) {
	t.Parallel()
	body := []byte(`{"run":"20261206T120000Z","batch":0,"authorizers":["wxA"]}`)
	for _, tc := range []struct {
		name  string
		fail  []string
		calls int
		code  string // "" with ok
		ok    bool
	}{
		{"sent", nil, 1, "", true},
		{"request limit, then sent", []string{"RequestLimitExceeded"}, 2, "", true},
		{"internal error twice, then sent", []string{"InternalError", "InternalError.System"}, 3, "", true},
		{"internal error three times", []string{"InternalError", "InternalError", "ResourceUnavailable"}, 3, "ResourceUnavailable", false},
		{"no such function", []string{"ResourceNotFound.Function"}, 1, "ResourceNotFound.Function", false},
		{"signature refused", []string{"AuthFailure.SignatureFailure"}, 1, "AuthFailure.SignatureFailure", false},
		{"not allowed", []string{"UnauthorizedOperation.CAM"}, 1, "UnauthorizedOperation.CAM", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, s := startFakeSCF(t, tc.fail...)
			s.backoff = func(int) time.Duration { return 0 }
			err := s.Send(context.Background(), []Message{{ID: "0", Body: body}})
			if len(f.got) != tc.calls {
				t.Errorf("%d calls, want %d", len(f.got), tc.calls)
			}
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var se *SendError
			if !errors.As(err, &se) || se.Code != tc.code {
				t.Fatalf("err = %v, want a SendError with code %q", err, tc.code)
			}
			if !strings.Contains(err.Error(), "queue: SCF Invoke of default/wxcloudenv: Code="+tc.code+", Message=refused") {
				t.Errorf("error %q", err)
			}
			noSecret(t, err)
		})
	}
}

// TestSCFTransportErrors: an HTTP status other than 200, an answer that is
// not JSON, a refused connection.
func TestSCFTransportErrors(t *testing.T) {
	t.Parallel()
	answer := func(status int, body string) string {
		var mu sync.Mutex
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		name, endpoint string
		calls          int
		code, text     string
	}{
		{"HTTP 502", answer(http.StatusBadGateway, "<html>bad gateway</html>"), 3, "ClientError.HttpStatusCodeError", "502"},
		{"not JSON", answer(http.StatusOK, "<xml/>"), 1, "ClientError.ParseJsonError", "not JSON"},
		{"too long", answer(http.StatusOK, `{"Response":{"RequestId":"`+strings.Repeat("r", maxAnswer)+`"}}`), 1, "ClientError.IOError", "over"},
		{"connection refused", closed, 3, "ClientError.NetworkError", "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"TENCENTCLOUD_SECRETID": "AKIDscftest", "TENCENTCLOUD_SECRETKEY": "scf-test-secret-key", "TENCENTCLOUD_SESSIONTOKEN": "scf-session-token"}
			s, err := NewSCF("default", "wxcloudenv", "ap-shanghai", tc.endpoint, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			calls := 1
			s.backoff = func(int) time.Duration { calls++; return 0 }
			err = s.Send(context.Background(), []Message{{ID: "0", Body: []byte("{}")}})
			var se *SendError
			if !errors.As(err, &se) || se.Code != tc.code || !strings.Contains(err.Error(), tc.text) || calls != tc.calls {
				t.Fatalf("err = %v after %d calls, want code %q saying %q after %d", err, calls, tc.code, tc.text, tc.calls)
			}
			if tc.code == "ClientError.NetworkError" {
				var ue *url.Error
				if !errors.As(err, &ue) {
					t.Errorf("err = %v does not wrap the *url.Error", err)
				}
			}
			noSecret(t, err)
		})
	}

	// Over SCF's 128 KB: refused before any call.
	_, s := startFakeSCF(t)
	err = s.Send(context.Background(), []Message{{ID: "0", Body: make([]byte, SCFMaxBytes+1)}})
	var se *SendError
	if !errors.As(err, &se) || se.Code != "ClientError.TooLarge" {
		t.Fatalf("err = %v", err)
	}
}

// TestSCFRequestAsTheSDKSends sends one batch with the SCF sender and the
// same Invoke through tencentcloud-sdk-go's common client (linked into
// this test only), and wants the same parameters and headers.
func TestSCFRequestAsTheSDKSends(t *testing.T) {
	t.Parallel()
	type seen struct {
		header http.Header
		params map[string]any
	}
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var params map[string]any
		if err := json.Unmarshal(body, &params); err != nil {
			t.Errorf("body %s: %v", body, err)
		}
		mu.Lock()
		got = append(got, seen{r.Header.Clone(), params})
		mu.Unlock()
		_, _ = io.WriteString(w, `{"Response":{"Result":{"FunctionRequestId":"f1","RetMsg":"async"},"RequestId":"r2"}}`)
	}))
	t.Cleanup(srv.Close)
	batch := `{"run":"20261206T120000Z","batch":7,"authorizers":["wx<&>\u2028中"]}`
	env := map[string]string{"TENCENTCLOUD_SECRETID": "AKIDscftest", "TENCENTCLOUD_SECRETKEY": "scf-test-secret-key", "TENCENTCLOUD_SESSIONTOKEN": "scf-session-token"}
	s, err := NewSCF("ns", "fn", "ap-chengdu", srv.URL, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), []Message{{ID: "0", Body: []byte(batch)}}); err != nil {
		t.Fatal(err)
	}

	u, _ := url.Parse(srv.URL)
	cp := profile.NewClientProfile()
	cp.HttpProfile.Endpoint = u.Host
	cp.HttpProfile.Scheme = "HTTP"
	cp.HttpProfile.ReqMethod = http.MethodPost
	cp.SignMethod = "TC3-HMAC-SHA256"
	cp.DisableRegionBreaker = true
	c := common.NewCommonClient(common.NewTokenCredential(env["TENCENTCLOUD_SECRETID"], env["TENCENTCLOUD_SECRETKEY"], env["TENCENTCLOUD_SESSIONTOKEN"]), "ap-chengdu", cp)
	req := tchttp.NewCommonRequest("scf", "2018-04-16", "Invoke")
	if err := req.SetActionParameters(map[string]any{"FunctionName": "fn", "Namespace": "ns", "InvocationType": "Event", "ClientContext": batch}); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(req, tchttp.NewCommonResponse()); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d requests", len(got))
	}
	ours, sdk := got[0], got[1]
	if a, b := mustJSON(t, ours.params), mustJSON(t, sdk.params); a != b {
		t.Errorf("parameters\n ours %s\n  sdk %s", a, b)
	}
	for _, h := range []string{"Content-Type", "X-TC-Action", "X-TC-Version", "X-TC-Region", "X-TC-Token", "X-TC-Language"} {
		if ours.header.Get(h) != sdk.header.Get(h) {
			t.Errorf("%s: ours %q, the SDK's %q", h, ours.header.Get(h), sdk.header.Get(h))
		}
	}
	// Same credential scope and signed headers; the signature differs
	// only by the timestamp (tc3's own test compares it byte for byte).
	scope := func(h http.Header) string { a, _, _ := strings.Cut(h.Get("Authorization"), ", Signature="); return a }
	if scope(ours.header) != scope(sdk.header) || scope(ours.header) == "" {
		t.Errorf("Authorization\n ours %s\n  sdk %s", ours.header.Get("Authorization"), sdk.header.Get("Authorization"))
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
