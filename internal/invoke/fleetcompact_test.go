package invoke

import (
	"testing"
	"unsafe"
)

// TestAuthResultSize holds a fleet authorizer's outcome, kept for each
// authorizer until the run's event is written, to 48 bytes: its appid and
// name are the run's (Result.appids, Result.names), not copies in it.
func TestAuthResultSize(t *testing.T) {
	if n := unsafe.Sizeof(authResult{}); n > 48 {
		t.Errorf("an authorizer's outcome is %d bytes, want at most 48", n)
	}
}
