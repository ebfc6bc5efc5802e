package testkit

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// LockRIE holds, until t ends, the machine-wide lock of AWS's Runtime
// Interface Emulator. The emulator always serves its Runtime API on
// 127.0.0.1:9001, so two emulators at once (two test packages, or two
// `make test` runs on one machine) make one exit with "address already in
// use"; the lock makes them take turns instead.
func LockRIE(t testing.TB) {
	t.Helper()
	path := filepath.Join(os.TempDir(), "wxcloudenv-aws-lambda-rie-9001.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("opening the emulator's lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("taking the emulator's lock %s: %v", path, err)
	}
	t.Cleanup(func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	})
}
