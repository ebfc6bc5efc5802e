package wechat

import (
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Scrubber removes secrets from texts: configuration values kept for its
// life (Keep), and tokens, refresh tokens, tickets and codes kept until a
// time (KeepUntil), dropped once it has passed. Whoever owns the values'
// lifetime holds it: a Client has one (WithScrubber shares it), and so
// does a long-lived runtime, so that a warm process keeps what is live and
// no more. Its methods are safe for concurrent use, and on a nil
// *Scrubber, which keeps nothing.
//
// A fleet holds tens of thousands of tokens, so Scrub does not try each
// secret in turn: secrets of at least minSecretPrefixBytes bytes are
// indexed by their first minSecretPrefixBytes bytes, those of indexBytes
// or more by their first indexBytes, and Scrub looks each position of the
// text up at most twice. Each secret is kept as given and in the forms it
// takes when quoted (%q, JSON) or URL-encoded, when those differ.
type Scrubber struct {
	now func() time.Time

	mu sync.RWMutex
	// byPrefix maps the first indexBytes bytes of each long secret form to
	// the forms that start with them, longest first.
	byPrefix map[string][]string
	// short are the forms shorter than indexBytes, longest first.
	short []string
	// all is every form, for dropping repeats.
	all map[string]struct{}
	// forever holds the values kept for the scrubber's life, until those
	// kept until a time.
	forever map[string]struct{}
	// until holds each value's time as Unix nanoseconds (a fleet keeps
	// tens of thousands).
	until map[string]int64
	// nextSweep is when expired values are next dropped.
	nextSweep time.Time
}

// NewScrubber returns a scrubber that keeps nothing yet.
func NewScrubber() *Scrubber { return &Scrubber{now: time.Now} }

// secretSweepInterval is how often values kept with KeepUntil are checked
// for having passed their time.
const secretSweepInterval = 10 * time.Minute

// keptForUse is how long KeepForUse keeps a value after each use: two
// token lifetimes.
const keptForUse = 2 * DefaultTokenLifetime

const (
	// minSecretBytes is the shortest secret kept: shorter values would
	// match ordinary text.
	minSecretBytes = 4
	// indexBytes is the length of the prefix that indexes secrets.
	indexBytes = 8
	// minSecretPrefixBytes is the shortest prefix of a secret that Scrub
	// removes as if it were the secret: a long secret cut short in a text
	// (a truncated log field) still reveals most of itself.
	minSecretPrefixBytes = 16
)

// Keep keeps values for the scrubber's life: configuration secrets.
// Values shorter than four bytes are ignored (they would match ordinary
// text).
func (s *Scrubber) Keep(values ...string) {
	if s == nil || s.allKept(values) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.forever == nil {
		s.forever = map[string]struct{}{}
	}
	for _, v := range values {
		if len(v) >= minSecretBytes {
			delete(s.until, v) // for the scrubber's life now
			s.forever[v] = struct{}{}
		}
	}
	s.keepLocked(values)
}

// KeepUntil keeps values that stop mattering at a known time, such as a
// token until its expiry: they are dropped once until has passed (at the
// latest secretSweepInterval later), unless Keep kept them too. Keeping a
// value again moves its time later, never earlier. A zero until keeps
// them for the scrubber's life.
func (s *Scrubber) KeepUntil(until time.Time, values ...string) {
	if s == nil {
		return
	}
	if until.IsZero() {
		s.Keep(values...)
		return
	}
	s.keepUntil(s.now(), until, until, values)
}

// keepUntil keeps values until until, unless every one is kept until at
// least enough already (the fast path, under the read lock).
func (s *Scrubber) keepUntil(now, until, enough time.Time, values []string) {
	if s.allKeptUntil(now, enough, values) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !now.Before(s.nextSweep) {
		s.sweepLocked(now)
		s.nextSweep = now.Add(secretSweepInterval)
	}
	if s.until == nil {
		s.until = map[string]int64{}
	}
	var added []string // values not indexed yet
	for _, v := range values {
		if len(v) < minSecretBytes {
			continue
		}
		if _, ok := s.forever[v]; ok {
			continue
		}
		t, ok := s.until[v]
		if !ok {
			added = append(added, v)
		}
		if u := unixNanos(until); !ok || u > t {
			s.until[v] = u
		}
	}
	s.keepLocked(added)
}

// KeepForUse keeps values that last no known time (refresh tokens, verify
// tickets, authorization codes) for two token lifetimes from now. A value
// still in use is kept again each time it is used; one replaced is dropped
// a while after its last use.
func (s *Scrubber) KeepForUse(values ...string) {
	if s == nil {
		return
	}
	// A value kept for use at most a sweep interval ago is kept enough:
	// calls that use one refresh token need not each take the write lock.
	now := s.now()
	s.keepUntil(now, now.Add(keptForUse), now.Add(keptForUse-secretSweepInterval), values)
}

// Len returns how many values the scrubber keeps: those kept for its life
// and those whose time has not passed by the last sweep.
func (s *Scrubber) Len() int {
	if s == nil {
		return 0
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.forever) + len(s.until)
}

// Sweep drops the values whose time has passed now, and reports how many
// values the scrubber still keeps.
func (s *Scrubber) Sweep() int {
	if s == nil {
		return 0
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	s.nextSweep = now.Add(secretSweepInterval)
	return len(s.forever) + len(s.until)
}

// sweepLocked drops the values whose time has passed: it rebuilds the
// index from the values still kept, so that a form two values share
// stays as long as either does.
func (s *Scrubber) sweepLocked(now time.Time) {
	expired := false
	for v, t := range s.until {
		if unixNanos(now) > t {
			delete(s.until, v)
			expired = true
		}
	}
	if !expired {
		return
	}
	s.all, s.byPrefix, s.short = nil, nil, nil
	s.keepLocked(keys(s.forever))
	s.keepLocked(keys(s.until))
}

// unixNanos is t in Unix nanoseconds, within UnixNano's range (years
// 1678 to 2262).
func unixNanos(t time.Time) int64 {
	switch {
	case t.Before(minNanos):
		return math.MinInt64
	case t.After(maxNanos):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var minNanos, maxNanos = time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// keepLocked adds values and their forms to the index.
func (s *Scrubber) keepLocked(values []string) {
	if s.all == nil {
		s.all = map[string]struct{}{}
		s.byPrefix = map[string][]string{}
	}
	shortChanged := false
	for _, v := range values {
		if len(v) < minSecretBytes {
			continue
		}
		for _, f := range secretForms(v) {
			if _, ok := s.all[f]; ok {
				continue
			}
			s.all[f] = struct{}{}
			if len(f) < indexBytes {
				s.short = append(s.short, f)
				shortChanged = true
				continue
			}
			// Forms of minSecretPrefixBytes or more are indexed by that
			// many bytes: every match, whole or cut short, shares them.
			// Shorter ones by indexBytes.
			p := f[:indexBytes]
			if len(f) >= minSecretPrefixBytes {
				p = f[:minSecretPrefixBytes]
			}
			list := s.byPrefix[p]
			at := sort.Search(len(list), func(j int) bool { return len(list[j]) < len(f) })
			s.byPrefix[p] = slices.Insert(list, at, f)
		}
	}
	if shortChanged {
		sort.SliceStable(s.short, func(i, j int) bool { return len(s.short[i]) > len(s.short[j]) })
	}
}

// allKept reports, under the read lock, whether every value is kept for
// life already (or too short to keep).
func (s *Scrubber) allKept(values []string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range values {
		if _, ok := s.forever[v]; !ok && len(v) >= minSecretBytes {
			return false
		}
	}
	return true
}

// allKeptUntil is allKept for KeepUntil: every value is kept for life or
// until at least until, and no sweep is due. The client keeps the token
// of every call, and most are kept already.
func (s *Scrubber) allKeptUntil(now, until time.Time, values []string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !now.Before(s.nextSweep) {
		return false
	}
	for _, v := range values {
		if len(v) < minSecretBytes {
			continue
		}
		if _, ok := s.forever[v]; ok {
			continue
		}
		if t, ok := s.until[v]; !ok || t < unixNanos(until) {
			return false
		}
	}
	return true
}

// secretForms returns v and the forms it takes escaped: inside a Go or
// JSON quoted string and URL-encoded.
func secretForms(v string) []string {
	forms := []string{v}
	add := func(f string) {
		for _, g := range forms {
			if g == f {
				return
			}
		}
		forms = append(forms, f)
	}
	if q := strconv.Quote(v); len(q) >= 2 {
		add(q[1 : len(q)-1])
	}
	add(url.QueryEscape(v))
	add(url.PathEscape(v))
	return forms
}

// scrubKept removes every kept secret, and every prefix of at least
// minSecretPrefixBytes of one, from s. Where secrets overlap, the longest
// match at the leftmost position wins.
func (sc *Scrubber) scrubKept(s string) string {
	if sc == nil {
		return s
	}
	sc.mu.RLock()
	defer sc.mu.RUnlock()
	if len(sc.all) == 0 {
		return s
	}
	for _, sec := range sc.short {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	if len(sc.byPrefix) == 0 || len(s) < indexBytes {
		return s
	}
	var b strings.Builder
	done := 0 // s[:done] is written to b or dropped
	for i := 0; i+indexBytes <= len(s); {
		n := 0
		if i+minSecretPrefixBytes <= len(s) {
			if list, ok := sc.byPrefix[s[i:i+minSecretPrefixBytes]]; ok {
				n = longestMatch(s[i:], list)
			}
		}
		if n == 0 {
			if list, ok := sc.byPrefix[s[i:i+indexBytes]]; ok {
				n = longestMatch(s[i:], list)
			}
		}
		if n == 0 {
			i++
			continue
		}
		if b.Len() == 0 && done == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[done:i])
		b.WriteString(Redacted)
		i += n
		done = i
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// longestMatch returns the length of the longest secret of list (longest
// first) that text starts with, or of the longest prefix of at least
// minSecretPrefixBytes of one that text starts with and ends at the end
// of text or at a byte that differs; 0 when none.
func longestMatch(text string, list []string) int {
	best := 0
	for _, sec := range list {
		if len(sec) <= best {
			break
		}
		if strings.HasPrefix(text, sec) {
			return len(sec)
		}
		n := commonPrefix(text, sec)
		if n >= minSecretPrefixBytes && n > best {
			best = n
		}
	}
	return best
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
