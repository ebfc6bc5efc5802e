package wechat

import (
	"time"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/internal/scan"
)

// SetClock replaces the clock of a cached token source in tests.
func SetClock(s *CachedTokenSource, now func() time.Time) { s.now = now }

// ScanRunEnvs is the client's one pass over a describecloudbaserunenvs
// answer, keeping what the alert rules keep.
func ScanRunEnvs(raw []byte) (Health, error) {
	a, err := scan.Scan(raw, "env_list", scan.RunEnvs, filterOf(func(kind ResourceKind, status string) bool {
		switch kind {
		case ResourceEnvironment:
			return status != EnvNormal
		case ResourceDatabase:
			return status == DatabaseUnusable || status == DatabaseOverdue
		}
		return status == StaticStorageOffline
	}))
	return healthOf(a.Health), err
}

// WithClock sets a client's clock in tests.
func WithClock(now func() time.Time) Option {
	return func(c *Client) error { c.now = now; return nil }
}

// NewScrubberClock returns a scrubber that reads the time from now.
func NewScrubberClock(now func() time.Time) *Scrubber { return &Scrubber{now: now} }

// Names the package keeps to itself, for its external tests.
var (
	RedactURLString = redactURLString
	ParseRID        = parseRID
)

// Limits of upstream values in errors.
const (
	MaxErrMsgBytes = maxErrMsgBytes
	MaxRIDBytes    = maxRIDBytes
)

// Mints returns how many mints the source has started.
func (s *CachedTokenSource) Mints() int { return s.mintCount() }

// ScrubberForms is how many forms a scrubber indexes.
func ScrubberForms(s *Scrubber) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := len(s.short)
	for _, l := range s.byPrefix {
		n += len(l)
	}
	return n
}
