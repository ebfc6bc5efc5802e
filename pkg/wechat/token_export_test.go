package wechat

// Waiters returns how many callers wait on the source's current mint.
func Waiters(s *CachedTokenSource) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flight == nil {
		return 0
	}
	return s.flight.waiters
}
