package invoke

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
)

// spoolMemBytes is how much of a spool stays in memory; the rest goes to a
// temporary file under os.TempDir() (docs/contract.md#memory-and-tmp):
// Lambda's and SCF's /tmp is not counted as the function's memory, so a
// fleet's answers cost the heap the same at 10,000 authorizers as at 2,000.
const spoolMemBytes = 1 << 20

// spoolFilePattern names a spool's temporary file.
const spoolFilePattern = "wxcloudenv-spool-*"

// spool holds bytes written once and read back: the first spoolMemBytes in
// memory, the rest in a temporary file that is unlinked as soon as it is
// created, so that it is gone from the file system at once and its space
// is freed when the spool is closed (or the process ends), whatever
// happens in between. It is safe for concurrent use.
type spool struct {
	limit  int // bytes kept in memory; 0 means spoolMemBytes
	mu     sync.Mutex
	mem    []byte
	f      *os.File
	n      int64 // bytes written
	err    error // the first write failure; every later write fails with it
	closed bool
}

// Write appends p. A failure to create or write the file is sticky.
func (s *spool) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.writeLocked(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// append writes p and returns where it starts.
func (s *spool) append(p []byte) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writeLocked(p)
}

func (s *spool) writeLocked(p []byte) (int64, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.closed {
		return 0, errors.New("invoke: write to a closed spool")
	}
	off := s.n
	limit := s.limit
	if limit <= 0 {
		limit = spoolMemBytes
	}
	if room := limit - len(s.mem); room > 0 && s.f == nil {
		k := min(room, len(p))
		if s.mem == nil {
			s.mem = make([]byte, 0, min(limit, max(4<<10, 2*len(p))))
		}
		s.mem = append(s.mem, p[:k]...)
		s.n += int64(k)
		p = p[k:]
	}
	if len(p) == 0 {
		return off, nil
	}
	if s.f == nil {
		f, err := os.CreateTemp("", spoolFilePattern)
		if err != nil {
			s.err = fmt.Errorf("invoke: spooling past %d bytes to %s: %w", limit, os.TempDir(), err)
			return 0, s.err
		}
		// Unlinked at once: nothing is left behind, even on a crash.
		_ = os.Remove(f.Name())
		s.f = f
	}
	if _, err := s.f.Write(p); err != nil {
		s.err = fmt.Errorf("invoke: spooling to %s: %w", os.TempDir(), err)
		return 0, s.err
	}
	s.n += int64(len(p))
	return off, nil
}

// Len returns the bytes written.
func (s *spool) Len() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Err returns the first write failure.
func (s *spool) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// appendAt appends the n bytes at off to b.
func (s *spool) appendAt(b []byte, off int64, n int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return b, s.err
	}
	if off < 0 || n < 0 || off+int64(n) > s.n {
		return b, fmt.Errorf("invoke: spool read of %d bytes at %d past its %d", n, off, s.n)
	}
	if m := int64(len(s.mem)); off < m {
		k := min(int64(n), m-off)
		b = append(b, s.mem[off:off+k]...)
		off += k
		n -= int(k)
	}
	if n == 0 {
		return b, nil
	}
	start := len(b)
	b = slices.Grow(b, n)[:start+n]
	if _, err := s.f.ReadAt(b[start:], off-int64(len(s.mem))); err != nil {
		return b[:start], fmt.Errorf("invoke: reading back the spool: %w", err)
	}
	return b, nil
}

// Bytes returns everything written, in memory.
func (s *spool) Bytes() ([]byte, error) {
	n := s.Len()
	return s.appendAt(make([]byte, 0, n), 0, int(n))
}

// Close frees the spool's memory and its file.
func (s *spool) Close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.mem = nil
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// spoolReader reads the spool from its start; closing it closes the spool.
type spoolReader struct {
	s   *spool
	off int64
}

// Reader returns a reader of everything written; its Close closes s.
func (s *spool) Reader() io.ReadCloser { return &spoolReader{s: s} }

func (r *spoolReader) Read(p []byte) (int, error) {
	n := r.s.Len()
	if r.off >= n {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), n-r.off))
	b, err := r.s.appendAt(p[:0], r.off, k)
	r.off += int64(len(b))
	if err != nil {
		return len(b), err
	}
	return len(b), nil
}

// ContentType is the answer's type, for aws-lambda-go.
func (r *spoolReader) ContentType() string { return "application/json" }

func (r *spoolReader) Close() error { return r.s.Close() }
