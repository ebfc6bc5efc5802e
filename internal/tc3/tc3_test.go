package tc3

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
)

// captured is one request as a server saw it.
type captured struct {
	method, host string
	header       http.Header
	body         []byte
}

// capture starts a server that records the requests and answers as Tencent
// Cloud does on success.
func capture(t *testing.T) (*httptest.Server, func() []captured) {
	var mu sync.Mutex
	var got []captured
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, captured{r.Method, r.Host, r.Header.Clone(), body})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"Response":{"RequestId":"r1"}}`)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []captured { mu.Lock(); defer mu.Unlock(); return append([]captured(nil), got...) }
}

// TestSignMatchesTheSDK sends requests through tencentcloud-sdk-go's own
// common client (linked into this test only) and wants, for the same
// method, host, content type, body and timestamp, the Authorization header
// the SDK sent.
func TestSignMatchesTheSDK(t *testing.T) {
	t.Parallel()
	srv, got := capture(t)
	u, _ := url.Parse(srv.URL)
	for i, tc := range []struct {
		name, service, version, action, region string
		id, key, token                         string
		params                                 map[string]any
	}{
		{"scf invoke", "scf", "2018-04-16", "Invoke", "ap-guangzhou", "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "",
			map[string]any{"FunctionName": "wxcloudenv", "Namespace": "default", "InvocationType": "Event", "ClientContext": `{"run":"20261206T120000Z","batch":0,"authorizers":["wx0123456789abcdef"]}`}},
		{"session token", "scf", "2018-04-16", "Invoke", "ap-shanghai", "AKIDscftest", "scf-test/secret+key=", "token/with+chars==",
			map[string]any{"FunctionName": "fn", "Namespace": "ns", "InvocationType": "Event", "ClientContext": "<&>\u2028 中文"}},
		{"another service", "cvm", "2017-03-12", "DescribeInstances", "ap-beijing", "AKIDother", "k", "",
			map[string]any{"Limit": 1}},
		{"empty params", "scf", "2018-04-16", "ListFunctions", "", "AKIDempty", "key", "t", map[string]any{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := profile.NewClientProfile()
			cp.HttpProfile.Endpoint = u.Host
			cp.HttpProfile.Scheme = "HTTP"
			cp.HttpProfile.ReqMethod = http.MethodPost
			cp.SignMethod = Algorithm
			cp.DisableRegionBreaker = true
			c := common.NewCommonClient(common.NewTokenCredential(tc.id, tc.key, tc.token), tc.region, cp)
			req := tchttp.NewCommonRequest(tc.service, tc.version, tc.action)
			if err := req.SetActionParameters(tc.params); err != nil {
				t.Fatal(err)
			}
			if err := c.Send(req, tchttp.NewCommonResponse()); err != nil {
				t.Fatal(err)
			}
			reqs := got()
			if len(reqs) != i+1 {
				t.Fatalf("%d requests, want %d", len(reqs), i+1)
			}
			sdk := reqs[i]
			ts, err := strconv.ParseInt(sdk.header.Get("X-TC-Timestamp"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			s := Signer{ID: tc.id, Key: tc.key, Token: tc.token}
			if got, want := s.Authorization(tc.service, sdk.method, sdk.host, sdk.header.Get("Content-Type"), sdk.body, ts), sdk.header.Get("Authorization"); got != want {
				t.Errorf("Authorization:\n got %s\nwant %s", got, want)
			}

			// Sign, on a request built as the SCF client builds it.
			r, err := http.NewRequest(sdk.method, srv.URL+"/", bytes.NewReader(sdk.body))
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Content-Type", sdk.header.Get("Content-Type"))
			s.Sign(r, tc.service, sdk.body, time.Unix(ts, 0))
			for _, h := range []string{"Authorization", "X-TC-Timestamp", "X-TC-Token"} {
				if got, want := r.Header.Get(h), sdk.header.Get(h); got != want {
					t.Errorf("%s: got %q, want %q", h, got, want)
				}
			}
			if strings.Contains(r.Header.Get("Authorization"), tc.key) {
				t.Error("the Authorization header holds the key")
			}
		})
	}
}
