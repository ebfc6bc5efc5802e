// Package testkit holds the helpers the project's tests share: golden
// files and a buffer that collects output written from several goroutines.
package testkit

import (
	"bytes"
	"flag"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
)

// Update, set with -update, rewrites golden files instead of comparing.
var Update = flag.Bool("update", false, "rewrite golden files")

// Golden compares got with the file at path, or writes it there under
// -update.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *Update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from its golden file:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// FreePort returns a loopback TCP port on which nothing listens now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ClosedURL returns an http:// base URL on loopback where nothing listens:
// a connection to it is refused.
func ClosedURL(t testing.TB) string {
	t.Helper()
	return "http://127.0.0.1:" + strconv.Itoa(FreePort(t))
}
