package wechat

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/internal/scan"
)

// streamThreshold is the size from which an answer is scanned while it
// arrives rather than after: on a slow network the scan then costs nothing,
// and on a fast one it runs beside the reading. Smaller answers, whose
// length is declared, are read first and scanned after.
const streamThreshold = 64 << 10

// readAnswer reads an answer of at most c.maxBytes and scans it with
// scan.Scan. It returns the bytes, what the scan read and the scan's
// error, or an error reading the answer (an *Error when it is too large).
func (c *Client) readAnswer(hr *http.Response, want string, shape *scan.Shape, keep scan.Filter) ([]byte, scan.Answer, error, error) {
	if n := hr.ContentLength; n >= 0 && n < streamThreshold {
		buf := bytes.NewBuffer(make([]byte, 0, n+1))
		if _, err := buf.ReadFrom(io.LimitReader(hr.Body, c.maxBytes+1)); err != nil {
			return nil, scan.Answer{}, nil, err
		}
		if int64(buf.Len()) > c.maxBytes {
			return nil, scan.Answer{}, nil, c.tooLarge()
		}
		a, err := scan.Scan(buf.Bytes(), want, shape, keep)
		return buf.Bytes(), a, err, nil
	}

	f := &feed{}
	f.cond.L = &f.mu
	type scanned struct {
		a   scan.Answer
		err error
	}
	done := make(chan scanned, 1)
	go func() {
		a, err := scan.Stream(f.more, want, shape, keep)
		done <- scanned{a, err}
	}()
	buf, err := c.readInto(hr, f)
	f.finish(buf)
	r := <-done
	if err != nil {
		return nil, scan.Answer{}, nil, err
	}
	return buf, r.a, r.err, nil
}

// readInto reads the answer, publishing each piece to f.
func (c *Client) readInto(hr *http.Response, f *feed) ([]byte, error) {
	limit := c.maxBytes + 1
	size := hr.ContentLength + 1
	if size <= 0 || size > limit {
		size = min(streamThreshold, limit)
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*int64(cap(buf)), limit))
			copy(grown, buf)
			buf = grown
		}
		n, err := hr.Body.Read(buf[len(buf):cap(buf)])
		if n > 0 {
			buf = buf[:len(buf)+n]
			f.publish(buf)
		}
		if int64(len(buf)) > c.maxBytes {
			return nil, c.tooLarge()
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (c *Client) tooLarge() *Error {
	return &Error{Kind: KindBadResponse,
		Message: fmt.Sprintf("the answer is over the limit of %d bytes (WECHAT_MAX_RESPONSE_BYTES)", c.maxBytes)}
}

// feed hands what has been read so far to a scanner in another goroutine.
type feed struct {
	mu   sync.Mutex
	cond sync.Cond
	data []byte
	done bool
}

// more waits until more than n bytes have arrived or the input has ended,
// and returns what has arrived.
func (f *feed) more(n int) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.data) <= n && !f.done {
		f.cond.Wait()
	}
	return f.data
}

func (f *feed) publish(data []byte) {
	f.mu.Lock()
	f.data = data
	f.mu.Unlock()
	f.cond.Signal()
}

// finish marks the end of the input; data is all of it, or nil when the
// reading failed.
func (f *feed) finish(data []byte) {
	f.mu.Lock()
	if data != nil {
		f.data = data
	}
	f.done = true
	f.mu.Unlock()
	f.cond.Signal()
}
