package wechat

import "time"

// SetClock replaces the clock of a cached token source in tests.
func SetClock(s *CachedTokenSource, now func() time.Time) { s.now = now }

// ScanRunEnvs is scanAnswer for a describecloudbaserunenvs answer.
func ScanRunEnvs(raw []byte) (Health, error) {
	a, err := scanAnswer(raw, "env_list", runEnvsShape)
	return a.health, err
}

// WithClock sets a client's clock in tests.
func WithClock(now func() time.Time) Option {
	return func(c *Client) error { c.now = now; return nil }
}
