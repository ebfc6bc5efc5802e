package scfrpc_test

import (
	"context"
	"errors"
	"net"
	"net/rpc"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tencentyun/scf-go-lib/cloudfunction/messages"
	"github.com/tencentyun/scf-go-lib/functioncontext"

	"github.com/wxcloudenv/wxcloudenv/internal/scfrpc"
)

// handler answers per payload: "echo" its payload with what the context
// says, "fail" an error, "panic" a panic, "wait" after its deadline.
type handler struct{}

type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

func (handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	switch string(payload) {
	case "fail":
		return nil, &failure{"it failed"}
	case "panic":
		panic(&failure{"boom"})
	case "wait":
		<-ctx.Done()
		return []byte(ctx.Err().Error()), nil
	}
	fc, ok := functioncontext.FromContext(ctx)
	if !ok {
		return nil, errors.New("no function context")
	}
	dl, _ := ctx.Deadline()
	return []byte(string(payload) + "|" + fc.RequestID + "|" + fc.FunctionName + "|" + os.Getenv("SCFRPC_TEST_VAR") + "|" + dl.UTC().Format(time.RFC3339)), nil
}

// dial serves handler on a loopback listener and connects net/rpc's own
// client, as SCF's runtime does.
func dial(t *testing.T) *rpc.Client {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	go scfrpc.Serve(lis, handler{})
	c, err := rpc.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func invoke(t *testing.T, c *rpc.Client, payload, env string, dl time.Time) messages.InvokeResponse {
	t.Helper()
	req := messages.InvokeRequest{Payload: []byte(payload), RequestId: "req-1", FunctionName: "fn", Environment: env,
		Deadline: messages.InvokeRequest_Timestamp{Seconds: dl.Unix(), Nanos: int64(dl.Nanosecond())}}
	var resp messages.InvokeResponse
	if err := c.Call("Function.Invoke", &req, &resp); err != nil {
		t.Fatalf("Function.Invoke(%q) = %v", payload, err)
	}
	return resp
}

func TestServesNetRPC(t *testing.T) {
	c := dial(t)
	if err := c.Call("Function.Ping", &messages.PingRequest{}, &messages.PingResponse{}); err != nil {
		t.Fatalf("Function.Ping = %v", err)
	}
	dl := time.Date(2099, 1, 2, 3, 4, 5, 0, time.UTC)
	t.Setenv("SCFRPC_TEST_VAR", "")
	for _, tc := range []struct {
		name, payload, env   string
		wantPayload          string
		wantType, wantPrefix string
		wantExit             bool
	}{
		{name: "echo", payload: "hi", wantPayload: "hi|req-1|fn||2099-01-02T03:04:05Z"},
		{name: "environment", payload: "hi", env: `{"SCFRPC_TEST_VAR":"set"}`, wantPayload: "hi|req-1|fn|set|2099-01-02T03:04:05Z"},
		{name: "environment persists", payload: "hi", wantPayload: "hi|req-1|fn|set|2099-01-02T03:04:05Z"},
		{name: "bad environment", payload: "hi", env: `[`, wantType: "SyntaxError", wantPrefix: "unexpected end of JSON input"},
		{name: "error", payload: "fail", wantType: "failure", wantPrefix: "it failed"},
		{name: "panic", payload: "panic", wantType: "failure", wantPrefix: "boom", wantExit: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := invoke(t, c, tc.payload, tc.env, dl)
			if tc.wantType == "" {
				if resp.Error != nil || string(resp.Payload) != tc.wantPayload {
					t.Fatalf("Invoke = %q, %+v; want %q", resp.Payload, resp.Error, tc.wantPayload)
				}
				return
			}
			e := resp.Error
			if e == nil || e.Type != tc.wantType || !strings.HasPrefix(e.Message, tc.wantPrefix) || e.ShouldExit != tc.wantExit {
				t.Fatalf("Invoke(%q).Error = %+v, want type %q, message %q…, ShouldExit %v", tc.payload, e, tc.wantType, tc.wantPrefix, tc.wantExit)
			}
			if tc.wantExit && (len(e.StackTrace) == 0 || !strings.Contains(e.StackTrace[0].Path, "scfrpc_test.go")) {
				t.Errorf("panic stack = %+v, want it to start in the handler", e.StackTrace)
			}
		})
	}
	if err := c.Call("Function.Nope", &messages.PingRequest{}, &messages.PingResponse{}); err == nil || !strings.Contains(err.Error(), "Function.Nope") {
		t.Errorf("Function.Nope = %v, want an error naming it", err)
	}
	// The connection is still in step after the unknown method.
	if err := c.Call("Function.Ping", &messages.PingRequest{}, &messages.PingResponse{}); err != nil {
		t.Fatalf("Function.Ping after an unknown method = %v", err)
	}
}

func TestConcurrentCallsAndDeadline(t *testing.T) {
	t.Parallel()
	c := dial(t)
	// A call waiting for its deadline does not hold up a ping or another
	// call on the same connection.
	var wg sync.WaitGroup
	wg.Add(1)
	var waited messages.InvokeResponse
	go func() {
		defer wg.Done()
		waited = invoke(t, c, "wait", "", time.Now().Add(2*time.Second))
	}()
	if err := c.Call("Function.Ping", &messages.PingRequest{}, &messages.PingResponse{}); err != nil {
		t.Errorf("Function.Ping during a call = %v", err)
	}
	if resp := invoke(t, c, "fail", "", time.Now().Add(time.Minute)); resp.Error == nil {
		t.Errorf("a second call during the first = %+v, want its error", resp)
	}
	wg.Wait()
	if string(waited.Payload) != context.DeadlineExceeded.Error() {
		t.Errorf("the waiting call answered %q, want its deadline to have passed", waited.Payload)
	}
	// A zero deadline is already past, as in scf-go-lib.
	if resp := invoke(t, c, "wait", "", time.Unix(0, 0)); string(resp.Payload) != context.DeadlineExceeded.Error() {
		t.Errorf("zero deadline: %q", resp.Payload)
	}
}
