// Package scfrpc serves a function to Tencent SCF's Go1 runtime: the
// net/rpc protocol with gob encoding that scf-go-lib's
// cloudfunction.StartHandler speaks (service "Function", methods Ping and
// Invoke), written out by hand.
//
// Why not scf-go-lib's own server: it registers its Function with net/rpc,
// whose reflection over methods turns off the linker's dead-code
// elimination of methods, which doubled the SCF binary (21 MB against
// Lambda's 11 MB; BENCHMARKS.md). This package keeps the same wire format,
// the same request and answer types (scf-go-lib's messages package) and
// the same behaviour per invocation: a context with the request's
// deadline and its functioncontext.FunctionContext, the delivered
// environment set with os.Setenv, a handler error answered as an error
// whose Type is the error's type name, a panic answered with ShouldExit.
package scfrpc

import (
	"bufio"
	"context"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/tencentyun/scf-go-lib/cloudfunction/messages"
	"github.com/tencentyun/scf-go-lib/functioncontext"
)

// PortVar is the variable through which SCF's Go1 runtime says which port
// to listen on.
const PortVar = "_LAMBDA_SERVER_PORT"

// Handler is what SCF invokes (scf-go-lib's cloudfunction.Handler).
type Handler interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// request and response are net/rpc's headers; gob matches fields by
// name, so these are the same on the wire as rpc.Request and
// rpc.Response.
type request struct {
	ServiceMethod string
	Seq           uint64
}

type response struct {
	ServiceMethod string
	Seq           uint64
	Error         string
}

// invalidRequest is the body net/rpc sends with an error.
type invalidRequest struct{}

// ListenAndServe listens on 0.0.0.0:$_LAMBDA_SERVER_PORT, as scf-go-lib
// does, and serves h until the listener fails.
func ListenAndServe(h Handler) error {
	lis, err := net.Listen("tcp", "0.0.0.0:"+os.Getenv(PortVar))
	if err != nil {
		return fmt.Errorf("scfrpc: listen: %w", err)
	}
	return Serve(lis, h)
}

// Serve accepts connections on lis and serves each in its own goroutine.
func Serve(lis net.Listener, h Handler) error {
	for {
		c, err := lis.Accept()
		if err != nil {
			return fmt.Errorf("scfrpc: accept: %w", err)
		}
		go ServeConn(c, h)
	}
}

// ServeConn serves one connection until the client closes it or sends
// something that is not net/rpc over gob. As net/rpc's server does, it
// reads the calls in order and runs each in its own goroutine.
func ServeConn(c io.ReadWriteCloser, h Handler) {
	defer c.Close()
	dec := gob.NewDecoder(bufio.NewReader(c))
	w := bufio.NewWriter(c)
	s := &conn{enc: gob.NewEncoder(w), w: w, c: c}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			return
		}
		switch req.ServiceMethod {
		case "Function.Ping":
			var in messages.PingRequest
			if dec.Decode(&in) != nil {
				return
			}
			s.send(req, "", &messages.PingResponse{})
		case "Function.Invoke":
			in := new(messages.InvokeRequest)
			if dec.Decode(in) != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.send(req, "", invoke(h, in))
			}()
		default:
			var discard any // nil: gob reads the body and drops it
			if dec.Decode(discard) != nil {
				return
			}
			s.send(req, "rpc: can't find service "+req.ServiceMethod, invalidRequest{})
		}
	}
}

// conn writes answers, one at a time.
type conn struct {
	mu  sync.Mutex
	enc *gob.Encoder
	w   *bufio.Writer
	c   io.Closer
}

func (s *conn) send(req request, errText string, body any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.enc.Encode(&response{ServiceMethod: req.ServiceMethod, Seq: req.Seq, Error: errText})
	if err == nil {
		err = s.enc.Encode(body)
	}
	if err == nil {
		err = s.w.Flush()
	}
	if err != nil {
		s.c.Close() // the stream is out of step; the client sees the connection end
	}
}

// invoke runs one invocation as scf-go-lib's Function.Invoke does.
func invoke(h Handler, req *messages.InvokeRequest) (resp *messages.InvokeResponse) {
	resp = &messages.InvokeResponse{}
	defer func() {
		if v := recover(); v != nil {
			resp.Payload = nil
			resp.Error = &messages.InvokeResponse_Error{
				Message:    fmt.Sprintf("%v", v),
				Type:       typeName(v),
				StackTrace: stack(),
				ShouldExit: true,
			}
		}
	}()
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(req.Deadline.Seconds, req.Deadline.Nanos).UTC())
	defer cancel()
	fc := &functioncontext.FunctionContext{
		RequestID:             req.RequestId,
		InvokedFunctionUnique: req.InvokedFunctionUnique,
		Namespace:             req.Namespace,
		FunctionName:          req.FunctionName,
		FunctionVersion:       req.FunctionVersion,
		MemoryLimitInMb:       req.MemoryLimitInMb,
		TimeLimitInMs:         req.TimeLimitInMs,
		TencentcloudRegion:    req.TencentcloudRegion,
		TencentcloudAppID:     req.TencentcloudAppID,
		TencentcloudUin:       req.TencentcloudUin,
		FunctionTrace:         req.FunctionTrace,
	}
	if len(req.ClientContext) > 0 {
		if err := json.Unmarshal(req.ClientContext, &fc.ClientContext); err != nil {
			resp.Error = errorAnswer(err)
			return resp
		}
	}
	if len(req.Environment) > 0 {
		if err := json.Unmarshal([]byte(req.Environment), &fc.Environment); err != nil {
			resp.Error = errorAnswer(err)
			return resp
		}
		for k, v := range fc.Environment {
			os.Setenv(k, v)
		}
	}
	out, err := h.Invoke(functioncontext.NewContext(ctx, fc), req.Payload)
	if err != nil {
		resp.Error = errorAnswer(err)
		return resp
	}
	resp.Payload = out
	return resp
}

// errorAnswer is a handler error as scf-go-lib answers it.
func errorAnswer(err error) *messages.InvokeResponse_Error {
	return &messages.InvokeResponse_Error{Message: err.Error(), Type: typeName(err)}
}

// typeName is v's type name, without the pointer (scf-go-lib's
// getErrorType).
func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return ""
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// stack is the panicking goroutine's stack, as scf-go-lib reports it.
func stack() []*messages.InvokeResponse_Error_StackFrame {
	pcs := make([]uintptr, 32)
	n := runtime.Callers(4, pcs) // runtime.Callers, stack, the deferred func, panic
	var out []*messages.InvokeResponse_Error_StackFrame
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		label := f.Function
		if i := strings.LastIndexByte(label, '/'); i >= 0 {
			label = label[i+1:]
		}
		if i := strings.IndexByte(label, '.'); i >= 0 {
			label = label[i+1:]
		}
		out = append(out, &messages.InvokeResponse_Error_StackFrame{Path: f.File, Line: int32(f.Line), Label: label})
		if !more {
			return out
		}
	}
}
