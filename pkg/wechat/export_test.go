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

// ExpireKeptSecret moves a value kept with KeepSecretUntil into the past
// and makes the next KeepSecretUntil sweep.
func ExpireKeptSecret(v string) {
	keptSecrets.mu.Lock()
	defer keptSecrets.mu.Unlock()
	if _, ok := keptSecrets.until[v]; ok {
		keptSecrets.until[v] = time.Now().Add(-time.Second)
	}
	keptSecrets.nextSweep = time.Time{}
}

// Names the package keeps to itself, for its external tests.
var (
	ParseBaseURLs   = parseBaseURLs
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
