package invoke

import (
	"context"
	"io"
)

// A fleet run's answers and event are kept out of the Go heap: each
// authorizer's response is set aside in a spool as its check ends, and the
// event is written to another spool as it is built, which is the answer a
// platform main streams (docs/contract.md#memory-and-tmp). The heap holds
// one compact authResult per authorizer (fleetcompact.go), not its answer.

// flushBytes is how much of an event is built in memory before it goes to
// its sink.
const flushBytes = 64 << 10

// spooledResponse is where a response was set aside.
type spooledResponse struct {
	s   *spool
	off int64
	n   int32
}

// spoolResponse moves r's response into s. When s cannot take it, the
// response stays in memory.
func spoolResponse(s *spool, r *Result) {
	if s == nil || len(r.Response) == 0 || len(r.Response) > 1<<30 {
		return
	}
	off, err := s.append(r.Response)
	if err != nil {
		return
	}
	r.spooled = spooledResponse{s: s, off: off, n: int32(len(r.Response))}
	r.Response = nil
}

// appendResponse appends r's response, from memory or its spool. A
// response that cannot be read back is written as null; the spool then
// holds the failure, which fails the answer (answerFailure).
func (r *Result) appendResponse(b []byte) []byte {
	if r.spooled.s == nil {
		return append(b, r.Response...)
	}
	out, err := r.spooled.s.appendAt(b, r.spooled.off, int(r.spooled.n))
	if err != nil {
		r.spooled.s.fail(err)
		return append(out, "null"...)
	}
	return out
}

// flushTo writes b to sink once it holds flushBytes, and returns what is
// left to build on.
func flushTo(sink *spool, b []byte) []byte {
	if sink == nil || len(b) < flushBytes {
		return b
	}
	_, _ = sink.Write(b) // a failure is sticky: buildSpooled reports it
	return b[:0]
}

// buildSpooled writes ev to a new spool.
func buildSpooled(ev *Event, limit int) (*spool, error) {
	s := &spool{limit: limit}
	ev.sink = s
	b := ev.AppendJSON(make([]byte, 0, flushBytes+4<<10))
	ev.sink = nil
	_, _ = s.Write(b)
	if err := s.Err(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// fail records a read failure as the spool's own.
func (s *spool) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

// bytesAnswer is an answer held in memory, as an io.ReadCloser.
type bytesAnswer struct{ b []byte }

func (a *bytesAnswer) Read(p []byte) (int, error) {
	if len(a.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, a.b)
	a.b = a.b[n:]
	return n, nil
}

// ContentType is the answer's type, for aws-lambda-go.
func (*bytesAnswer) ContentType() string { return "application/json" }

func (*bytesAnswer) Close() error { return nil }

// InvokeStream is Invoke with the answer as a reader, which the caller
// closes once it is sent: a fleet run's answer is read from its spool
// (memory, then a temporary file), never held whole in the heap. An
// io.ReadCloser with ContentType is what aws-lambda-go posts as it reads.
func (h *Handler) InvokeStream(ctx context.Context, payload []byte) (io.ReadCloser, error) {
	out, s, err := h.invoke(ctx, payload)
	if s != nil {
		return s.Reader(), err
	}
	if err != nil {
		return nil, err
	}
	return &bytesAnswer{b: out}, nil
}

// readAnswer reads a spooled answer into memory and closes its spool.
func readAnswer(s *spool) ([]byte, error) {
	defer s.Close()
	b, err := s.Bytes()
	if err != nil {
		return nil, &InvocationError{Message: "wxcloudenv: the answer could not be read back: " + err.Error()}
	}
	return b, nil
}

// size is the answer's length in bytes.
func (a answer) size() int {
	if a.body != nil {
		return int(a.body.Len())
	}
	return len(a.out)
}

// buildStream writes ev to a spool, the answer of a scheduled or direct
// fleet run.
func (inv *invocation) buildStream(ev *Event) answer {
	s, err := buildSpooled(ev, inv.h.spoolMem)
	if err == nil {
		if err = inv.responses.Err(); err != nil {
			s.Close()
		}
	}
	if err != nil {
		msg := inv.scrub("wxcloudenv: the answer could not be written: " + err.Error())
		return answer{failure: msg, err: &InvocationError{Message: msg}}
	}
	return answer{body: s}
}
