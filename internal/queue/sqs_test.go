package queue

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The test credentials; no error text may hold the secret or the session.
const (
	sqsID      = "AKIDSQSUNIT"
	sqsSecret  = "sqs-unit/secret+key="
	sqsSession = "sqs-unit-session/token=="
)

// sqsAnswer is one scripted answer of the fake SQS: a status, headers and
// a body; body "" answers Successful for every entry (with the MD5 of each
// body, or md5 when set).
type sqsAnswer struct {
	status int
	header map[string]string
	body   string
	md5    string
}

// fakeSQS is SQS's JSON endpoint: it checks each request's Signature
// Version 4 against the AWS SDK's v4 signer (linked into this test only)
// and answers from a script.
type fakeSQS struct {
	t       *testing.T
	mu      sync.Mutex
	script  []sqsAnswer
	batches []sqsBatch
}

func (f *fakeSQS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.URL.Path != "/" || r.Header.Get("Content-Type") != "application/x-amz-json-1.0" ||
		r.Header.Get("X-Amz-Target") != "AmazonSQS.SendMessageBatch" || r.Header.Get("X-Amzn-Query-Mode") != "true" {
		f.t.Errorf("request %s %s %v", r.Method, r.URL, r.Header)
	}
	if got, want := r.Header.Get("Authorization"), sdkSignature(f.t, r, body); got != want {
		f.t.Errorf("Authorization:\n got %s\nwant %s", got, want)
	}
	var in sqsBatch
	if err := json.Unmarshal(body, &in); err != nil {
		f.t.Errorf("body %s: %v", body, err)
	}
	f.mu.Lock()
	f.batches = append(f.batches, in)
	a := sqsAnswer{}
	if len(f.script) > 0 {
		a, f.script = f.script[0], f.script[1:]
	}
	f.mu.Unlock()
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	if a.status == 0 {
		a.status = http.StatusOK
	}
	if a.body == "" && a.status == http.StatusOK {
		var out sqsResult
		for _, e := range in.Entries {
			sum := md5.Sum([]byte(e.MessageBody))
			m := hex.EncodeToString(sum[:])
			if a.md5 != "" {
				m = a.md5
			}
			out.Successful = append(out.Successful, struct {
				ID               string `json:"Id"`
				MD5OfMessageBody string `json:"MD5OfMessageBody"`
			}{e.ID, m})
		}
		b, _ := json.Marshal(out)
		a.body = string(b)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

// sdkSignature is the Authorization header the AWS SDK's signer gives the
// request r as received, at its own X-Amz-Date.
func sdkSignature(t *testing.T, r *http.Request, body []byte) string {
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		t.Errorf("X-Amz-Date: %v", err)
		return ""
	}
	req, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	for _, h := range []string{"Content-Type", "X-Amz-Target", "X-Amzn-Query-Mode"} {
		req.Header.Set(h, r.Header.Get(h))
	}
	sum := sha256Hex(string(body))
	creds := aws.Credentials{AccessKeyID: sqsID, SecretAccessKey: sqsSecret, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sum, "sqs", "eu-west-1", at); err != nil {
		t.Error(err)
	}
	return req.Header.Get("Authorization")
}

func sqsEnv(extra ...string) Lookup {
	env := map[string]string{"AWS_ACCESS_KEY_ID": sqsID, "AWS_SECRET_ACCESS_KEY": sqsSecret, "AWS_SESSION_TOKEN": sqsSession, "AWS_REGION": "eu-west-1"}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// startFakeSQS returns the fake and a sender to its queue whose backoffs
// are recorded instead of slept.
func startFakeSQS(t *testing.T, script ...sqsAnswer) (*fakeSQS, *SQS, *[]bool) {
	f := &fakeSQS{t: t, script: script}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	s, err := NewSQS(srv.URL+"/123456789012/fleet", sqsEnv(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var throttles []bool
	s.backoff = func(n int, throttled bool) time.Duration {
		throttles = append(throttles, throttled)
		return 0
	}
	return f, s, &throttles
}

func queryError(code string) map[string]string {
	return map[string]string{"X-Amzn-Query-Error": code, "Content-Type": "application/x-amz-json-1.0"}
}

func failed(id string, senderFault bool, code string) sqsAnswer {
	return sqsAnswer{body: fmt.Sprintf(`{"Successful":[],"Failed":[{"Id":%q,"SenderFault":%t,"Code":%q,"Message":"entry refused"}]}`, id, senderFault, code)}
}

func TestSQSSend(t *testing.T) {
	t.Parallel()
	msgs := []Message{
		{ID: "0", Body: []byte(`{"run":"20261206T120000Z","batch":0,"authorizers":["wx0"]}`)},
		{ID: "1", Body: []byte(`{"run":"20261206T120000Z","batch":1,"authorizers":["wx<&>\u2028中"]}`)},
		{ID: "2", Body: []byte(`{"run":"20261206T120000Z","batch":2,"authorizers":["wx2"]}`)},
	}
	for _, tc := range []struct {
		name   string
		script []sqsAnswer
		// calls is how many requests reach SQS; throttles the backoffs
		// asked for (true: after throttling).
		calls     int
		throttles []bool
		// code is the SendError's code, "" with ok for no error.
		ok   bool
		code string
		// resent are the entries of the last call when it is a resend.
		resent []string
		text   string
	}{
		{name: "sent", calls: 1, ok: true},
		{name: "throttled then sent", script: []sqsAnswer{{status: 400, header: queryError("RequestThrottled;Sender"), body: `{"__type":"com.amazonaws.sqs#RequestThrottled","message":"Rate exceeded"}`}},
			calls: 2, throttles: []bool{true}, ok: true},
		{name: "ThrottlingException twice then sent", script: []sqsAnswer{
			{status: 400, body: `{"__type":"com.amazonaws.coral.availability#ThrottlingException","message":"Rate exceeded"}`},
			{status: 400, body: `{"__type":"com.amazonaws.coral.availability#ThrottlingException","message":"Rate exceeded"}`}},
			calls: 3, throttles: []bool{true, true}, ok: true},
		{name: "throttled three times", script: []sqsAnswer{
			{status: 400, header: queryError("RequestThrottled;Sender"), body: `{"__type":"com.amazonaws.sqs#RequestThrottled","message":"Rate exceeded"}`},
			{status: 400, header: queryError("RequestThrottled;Sender"), body: `{"__type":"com.amazonaws.sqs#RequestThrottled","message":"Rate exceeded"}`},
			{status: 400, header: queryError("RequestThrottled;Sender"), body: `{"__type":"com.amazonaws.sqs#RequestThrottled","message":"Rate exceeded"}`}},
			calls: 3, throttles: []bool{true, true}, code: "RequestThrottled", text: "Rate exceeded"},
		{name: "internal error then sent", script: []sqsAnswer{{status: 500, header: queryError("InternalError;Receiver"), body: `{"__type":"com.amazonaws.sqs#InternalError","message":"We encountered an internal error."}`}},
			calls: 2, throttles: []bool{false}, ok: true},
		{name: "503 without a body, three times", script: []sqsAnswer{{status: 503, body: "<html>"}, {status: 503, body: "<html>"}, {status: 503, body: "<html>"}},
			calls: 3, throttles: []bool{false, false}, code: "", text: "HTTP 503"},
		{name: "queue does not exist", script: []sqsAnswer{{status: 400, header: queryError("AWS.SimpleQueueService.NonExistentQueue;Sender"),
			body: `{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}`}},
			calls: 1, code: "AWS.SimpleQueueService.NonExistentQueue", text: "The specified queue does not exist."},
		{name: "queue does not exist, no query header", script: []sqsAnswer{{status: 400, body: `{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}`}},
			calls: 1, code: "QueueDoesNotExist"},
		{name: "access denied", script: []sqsAnswer{{status: 403, header: map[string]string{"X-Amzn-ErrorType": "AccessDeniedException:http://internal.amazon.com/"},
			body: `{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"not authorized to perform sqs:sendmessage"}`}},
			calls: 1, code: "AccessDeniedException", text: "not authorized"},
		{name: "signature refused", script: []sqsAnswer{{status: 403, header: queryError("SignatureDoesNotMatch;Sender"),
			body: `{"__type":"com.amazon.coral.service#SignatureDoesNotMatch","message":"The request signature we calculated does not match"}`}},
			calls: 1, code: "SignatureDoesNotMatch"},
		{name: "entry failed on SQS's side, resent once", script: []sqsAnswer{failed("1", false, "InternalError")},
			calls: 2, ok: true, resent: []string{"1"}},
		{name: "entry failed twice", script: []sqsAnswer{failed("2", false, "InternalError"), failed("2", false, "ServiceUnavailable")},
			calls: 2, resent: []string{"2"}, code: "ServiceUnavailable", text: "failed 1 of 1 messages: entry refused"},
		{name: "sender's fault, not resent", script: []sqsAnswer{failed("0", true, "InvalidMessageContents")},
			calls: 1, code: "InvalidMessageContents", text: "failed 1 of 3 messages"},
		{name: "MD5 mismatch", script: []sqsAnswer{{md5: "00000000000000000000000000000000"}},
			calls: 1, code: "", text: "MD5"},
		{name: "answer too long", script: []sqsAnswer{{body: `{"Successful":[],"Failed":[],"pad":"` + strings.Repeat("x", maxAnswer) + `"}`}},
			calls: 1, code: "", text: "over"},
		{name: "answer not JSON", script: []sqsAnswer{{body: `<xml/>`}},
			calls: 1, code: "", text: "decoding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, s, throttles := startFakeSQS(t, tc.script...)
			err := s.Send(context.Background(), msgs)
			if len(f.batches) != tc.calls {
				t.Errorf("%d calls, want %d", len(f.batches), tc.calls)
			}
			if fmt.Sprint(*throttles) != fmt.Sprint(tc.throttles) && !(len(*throttles) == 0 && len(tc.throttles) == 0) {
				t.Errorf("backoffs %v, want %v", *throttles, tc.throttles)
			}
			for _, b := range f.batches {
				if !strings.HasSuffix(b.QueueURL, "/123456789012/fleet") {
					t.Errorf("QueueUrl %q", b.QueueURL)
				}
			}
			if len(f.batches) > 0 {
				first := f.batches[0]
				if len(first.Entries) != len(msgs) {
					t.Fatalf("entries %v", first.Entries)
				}
				for i, e := range first.Entries {
					if e.ID != msgs[i].ID || e.MessageBody != string(msgs[i].Body) {
						t.Errorf("entry %d: %+v", i, e)
					}
				}
			}
			if tc.resent != nil {
				var ids []string
				for _, e := range f.batches[len(f.batches)-1].Entries {
					ids = append(ids, e.ID)
				}
				if fmt.Sprint(ids) != fmt.Sprint(tc.resent) {
					t.Errorf("resent %v, want %v", ids, tc.resent)
				}
			}
			if tc.ok {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var se *SendError
			if !errors.As(err, &se) || se.Code != tc.code {
				t.Fatalf("err = %#v (%v), want SendError with code %q", err, err, tc.code)
			}
			if !strings.Contains(err.Error(), tc.text) || !strings.HasPrefix(err.Error(), "queue: SendMessageBatch") {
				t.Errorf("error %q does not say %q", err, tc.text)
			}
			noSecret(t, err)
		})
	}
}

// noSecret fails when err's text holds a credential or a signature.
func noSecret(t *testing.T, err error) {
	t.Helper()
	for _, s := range []string{sqsSecret, url.QueryEscape(sqsSecret), sqsSession, "Signature=", "AWS4-HMAC-SHA256", "scf-test-secret-key", "scf-session-token", "TC3-HMAC"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("the error holds %q: %v", s, err)
		}
	}
}

func TestSQSTransportErrors(t *testing.T) {
	t.Parallel()
	// A closed port: the connection is refused three times, and the
	// error (a *url.Error naming the endpoint) holds no credential.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s, err := NewSQS("http://"+addr+"/123456789012/fleet", sqsEnv(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	retries := 0
	s.backoff = func(int, bool) time.Duration { retries++; return 0 }
	err = s.Send(context.Background(), []Message{{ID: "0", Body: []byte("{}")}})
	var ue *url.Error
	if !errors.As(err, &ue) || retries != 2 {
		t.Fatalf("err = %v after %d retries, want a *url.Error after 2", err, retries)
	}
	noSecret(t, err)

	// A canceled call is not retried.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	retries = 0
	err = s.Send(ctx, []Message{{ID: "0", Body: []byte("{}")}})
	if !errors.Is(err, context.Canceled) || retries != 0 {
		t.Fatalf("err = %v after %d retries, want context.Canceled at once", err, retries)
	}
	noSecret(t, err)
}

func TestNewSQS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, url string
		env       Lookup
		region    string
		err       string
	}{
		{"region from the URL", "https://sqs.ap-southeast-1.amazonaws.com/123456789012/fleet", sqsEnv(), "ap-southeast-1", ""},
		{"China", "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/fleet", sqsEnv(), "cn-north-1", ""},
		{"region from AWS_REGION", "http://127.0.0.1:4100/100010001000/fleet", sqsEnv(), "eu-west-1", ""},
		{"no region", "http://127.0.0.1:4100/100010001000/fleet", sqsEnv("AWS_REGION", " "), "", "AWS_REGION is not set"},
		{"no key", "https://sqs.us-east-1.amazonaws.com/1/q", sqsEnv("AWS_ACCESS_KEY_ID", ""), "", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set"},
		{"no secret", "https://sqs.us-east-1.amazonaws.com/1/q", sqsEnv("AWS_SECRET_ACCESS_KEY", ""), "", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set"},
		{"not a URL", "fleet", sqsEnv(), "", "WXCLOUDENV_FLEET_QUEUE is not a queue URL"},
		{"not http", "ftp://sqs.us-east-1.amazonaws.com/1/q", sqsEnv(), "", "WXCLOUDENV_FLEET_QUEUE is not a queue URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := NewSQS(tc.url, tc.env, time.Second)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				noSecret(t, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(tc.url)
			if s.signer.Region != tc.region || s.signer.Service != "sqs" || s.endpoint != u.Scheme+"://"+u.Host+"/" ||
				s.signer.Session != sqsSession || s.url != tc.url {
				t.Errorf("region %q endpoint %q session %q, want %q", s.signer.Region, s.endpoint, s.signer.Session, tc.region)
			}
		})
	}
}

func TestJitter(t *testing.T) {
	t.Parallel()
	for n, most := range map[int]time.Duration{1: 50 * time.Millisecond, 2: 100 * time.Millisecond} {
		for range 100 {
			if d := jitter(n, false); d < 0 || d >= most {
				t.Fatalf("retry %d waits %v, want under %v", n, d, most)
			}
			if d := jitter(n, true); d < 0 || d >= most*20 {
				t.Fatalf("retry %d after throttling waits %v, want under %v", n, d, most*20)
			}
		}
	}
}
