package nanos_test

import (
	"math"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/nanos"
)

func TestOf(t *testing.T) {
	now := time.Date(2026, 12, 6, 8, 0, 0, 5, time.UTC)
	for _, tc := range []struct {
		t    time.Time
		want int64
	}{
		{now, now.UnixNano()},
		{time.Time{}, math.MinInt64},
		{time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), math.MaxInt64},
		{time.Unix(0, 0), 0},
	} {
		if got := nanos.Of(tc.t); got != tc.want {
			t.Errorf("Of(%v) = %d, want %d", tc.t, got, tc.want)
		}
	}
}
