// Package nanos keeps times as Unix nanoseconds, the compact form the
// token slots and the scrubber hold per authorizer.
package nanos

import (
	"math"
	"time"
)

var minT, maxT = time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)

// Of is t in Unix nanoseconds, clamped to int64's range (years 1678 to
// 2262), where t.UnixNano would overflow.
func Of(t time.Time) int64 {
	switch {
	case t.Before(minT):
		return math.MinInt64
	case t.After(maxT):
		return math.MaxInt64
	}
	return t.UnixNano()
}
