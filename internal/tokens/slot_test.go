package tokens

import (
	"testing"
	"unsafe"
)

// TestSlotSize holds a slot, kept per authorizer between a fleet's runs,
// to 64 bytes (a size class of its own: 65 would cost 80).
func TestSlotSize(t *testing.T) {
	if n := unsafe.Sizeof(slot{}); n > 64 {
		t.Errorf("a slot is %d bytes, want at most 64: a fleet of 10,000 keeps one per authorizer", n)
	}
}
