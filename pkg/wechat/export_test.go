package wechat

import "time"

// SetClock replaces the clock of a cached token source in tests.
func SetClock(s *CachedTokenSource, now func() time.Time) { s.now = now }
