// Package runtimeapi emulates the AWS Lambda Runtime API (2018-06-01) so
// that a built bootstrap can be driven as Lambda drives it: the function
// asks for the next event, then posts a response or an error. The e2e
// tests and the cold-start benchmarks both use it.
package runtimeapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Answer is what a function posted for one invocation.
type Answer struct {
	Body        []byte
	IsError     bool
	ContentType string
}

// Emulator is a Runtime API emulator serving next, response and error,
// with the request id, deadline, function ARN and trace headers.
type Emulator struct {
	srv     *httptest.Server
	next    chan pending
	mu      sync.Mutex
	waiting map[string]chan Answer
	seq     atomic.Int64
}

type pending struct {
	id       string
	payload  []byte
	deadline time.Time
}

// New starts an emulator; Close stops it.
func New() *Emulator {
	api := &Emulator{next: make(chan pending), waiting: map[string]chan Answer{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case p := <-api.next:
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", p.id)
			w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(p.deadline.UnixMilli(), 10))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:ap-east-1:123456789012:function:wxcloudenv")
			w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-6742de00-0a1b2c3d4e5f6a7b8c9d0e1f;Sampled=0")
			w.Header().Set("Content-Type", "application/json")
			w.Write(p.payload)
		case <-r.Context().Done():
		}
	})
	deliver := func(isError bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			api.mu.Lock()
			ch := api.waiting[r.PathValue("id")]
			delete(api.waiting, r.PathValue("id"))
			api.mu.Unlock()
			if ch == nil {
				http.Error(w, "unknown request id", http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusAccepted)
			ch <- Answer{Body: body, IsError: isError, ContentType: r.Header.Get("Content-Type")}
		}
	}
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", deliver(false))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", deliver(true))
	api.srv = httptest.NewServer(mux)
	return api
}

// Close drops the function's connections and stops the emulator.
func (api *Emulator) Close() {
	api.srv.CloseClientConnections()
	api.srv.Close()
}

// Addr is the value of AWS_LAMBDA_RUNTIME_API.
func (api *Emulator) Addr() string { return strings.TrimPrefix(api.srv.URL, "http://") }

// Env returns the variables Lambda sets for a function served by api,
// with extra added.
func (api *Emulator) Env(extra map[string]string) map[string]string {
	env := map[string]string{
		"AWS_LAMBDA_RUNTIME_API":          api.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME":        "wxcloudenv",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_REGION":                      "ap-east-1",
		"TZ":                              ":UTC",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// ErrNoTaker means no function asked for the event in time.
var ErrNoTaker = errors.New("runtimeapi: the function never asked for the next event")

// Invoke queues an event with the given time limit and waits for the
// function's answer. It returns the request id it gave the event.
func (api *Emulator) Invoke(payload []byte, timeout time.Duration) (Answer, string, error) {
	id := fmt.Sprintf("runtimeapi-request-%04d", api.seq.Add(1))
	ch := make(chan Answer, 1)
	api.mu.Lock()
	api.waiting[id] = ch
	api.mu.Unlock()
	wait := time.NewTimer(20 * time.Second)
	defer wait.Stop()
	select {
	case api.next <- pending{id: id, payload: payload, deadline: time.Now().Add(timeout)}:
	case <-wait.C:
		return Answer{}, id, ErrNoTaker
	}
	wait.Reset(timeout + 10*time.Second)
	select {
	case a := <-ch:
		return a, id, nil
	case <-wait.C:
		return Answer{}, id, fmt.Errorf("runtimeapi: no answer to %s within %v", id, timeout+10*time.Second)
	}
}
