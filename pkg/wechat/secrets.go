package wechat

import (
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/wxcloudenv/wxcloudenv/internal/nanos"
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
// takes when quoted (%q, JSON) or URL-encoded, when those differ; the
// index is all it keeps: each form once, with its time.
type Scrubber struct {
	now func() time.Time

	mu sync.RWMutex
	// byPrefix maps the first indexBytes bytes of each long secret form
	// (minSecretPrefixBytes when it is that long) to the forms that start
	// with them, ordered by length, longest first, then by bytes.
	byPrefix map[string][]kept
	// short are the forms shorter than indexBytes, longest first.
	short []kept
	// values counts the forms that are kept values themselves (Len).
	values int
	// nextSweep is when expired values are next dropped.
	nextSweep time.Time
}

// kept is one indexed form, with how long it is kept: 16 bytes, since a
// fleet keeps tens of thousands. The form's bytes are those of the string
// it was kept from (form); its length shares a word with the form's
// encoding (forms.go) and whether the form is a kept value itself (not
// only the quoted or URL-encoded form of one); the time is in Unix
// seconds, rounded up. A form is kept until the latest time of the values
// it is a form of; foreverSecs is the scrubber's life.
type kept struct {
	p    *byte  // the first byte of the form, or of the value an encoding writes as it
	n    uint32 // its length, the encoding times lenLimit, keptValue
	secs uint32 // kept until, Unix seconds
}

const (
	// lenLimit bounds the length of a kept secret: longer values are not
	// kept (no configuration or token comes near it).
	lenLimit  = 1 << 29
	keptValue = 1 << 31
	// foreverSecs is the time of values kept for the scrubber's life.
	foreverSecs = math.MaxUint32
	// foreverNanos stands for it where times are Unix nanoseconds.
	foreverNanos = math.MaxInt64
)

func newKept(form string, enc uint8, value bool, secs uint32) kept {
	n := uint32(len(form)) | uint32(enc)<<29
	if value {
		n |= keptValue
	}
	return kept{p: unsafe.StringData(form), n: n, secs: secs}
}

// form is the string kept: the form itself, or with an encoding the value
// the encoding writes as the form.
func (e kept) form() string  { return unsafe.String(e.p, e.n%lenLimit) }
func (e kept) until() uint32 { return e.secs }
func (e kept) isValue() bool { return e.n&keptValue != 0 }
func (e kept) enc() uint8    { return uint8(e.n>>29) & 3 }
func (e kept) len() int      { return encodedLen(e.enc(), e.form()) }

// keptSecs is a time in Unix nanoseconds (foreverNanos or more: the
// scrubber's life) as a kept form's, rounded up.
func keptSecs(nanos int64) uint32 {
	if nanos >= foreverNanos {
		return foreverSecs
	}
	if nanos <= 0 {
		return 0
	}
	return uint32(min((nanos+1e9-1)/1e9, foreverSecs-1))
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
	if s == nil || s.allKeptUntil(time.Time{}, foreverNanos, values) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keepLocked(values, foreverNanos)
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
	if s.allKeptUntil(now, min(nanos.Of(enough), foreverNanos), values) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !now.Before(s.nextSweep) {
		s.sweepLocked(now)
		s.nextSweep = now.Add(secretSweepInterval)
	}
	s.keepLocked(values, min(nanos.Of(until), foreverNanos))
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
	return s.values
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
	return s.values
}

// sweepLocked drops the forms whose time has passed: a form two values
// share is kept until the later of their times, so it stays as long as
// either value does.
func (s *Scrubber) sweepLocked(now time.Time) {
	t := keptSecs(nanos.Of(now.Truncate(time.Second))) // now, rounded down
	live := func(e kept) bool {
		if t > e.until() {
			if e.isValue() {
				s.values--
			}
			return false
		}
		return true
	}
	for p, list := range s.byPrefix {
		if list = keepLive(list, live); len(list) == 0 {
			delete(s.byPrefix, p)
		} else {
			s.byPrefix[p] = list
		}
	}
	s.short = keepLive(s.short, live)
}

// keepLive removes the entries live refuses, in place, keeping the order.
func keepLive(list []kept, live func(kept) bool) []kept {
	out := list[:0]
	for _, e := range list {
		if live(e) {
			out = append(out, e)
		}
	}
	clear(list[len(out):]) // the dropped forms' strings are not held
	return out
}

// indexKey is the index key of a form of at least indexBytes.
func indexKey(f string) string {
	if len(f) >= minSecretPrefixBytes {
		return f[:minSecretPrefixBytes]
	}
	return f[:indexBytes]
}

// find returns the list that holds f, or would, and f's position in it;
// ok reports whether f is there.
func (s *Scrubber) find(f string) (list []kept, at int, ok bool) {
	if len(f) < indexBytes {
		for i, e := range s.short {
			if e.form() == f {
				return s.short, i, true
			}
		}
		return s.short, len(s.short), false
	}
	list = s.byPrefix[indexKey(f)]
	at = sort.Search(len(list), func(j int) bool {
		n := list[j].len()
		return n < len(f) || n == len(f) && encodedCompare(list[j].enc(), list[j].form(), f) >= 0
	})
	return list, at, at < len(list) && list[at].len() == len(f) && encodedCompare(list[at].enc(), list[at].form(), f) == 0
}

// keepLocked keeps values and their forms until until (Unix nanos, at
// most foreverNanos), or later if kept so already.
func (s *Scrubber) keepLocked(values []string, until int64) {
	if s.byPrefix == nil {
		s.byPrefix = map[string][]kept{}
	}
	secs := keptSecs(until)
	shortChanged := false
	for _, v := range values {
		if len(v) < minSecretBytes || len(v) >= lenLimit/3 { // an encoded form is at most three times as long
			continue
		}
		for i, f := range secretForms(v) {
			isValue := i == 0
			list, at, ok := s.find(f.text)
			if ok {
				e := &list[at]
				if isValue && !e.isValue() {
					s.values++
					e.n |= keptValue
				}
				e.secs = max(e.secs, secs)
				continue
			}
			if isValue {
				s.values++
			}
			e := newKept(f.text, encNone, isValue, secs)
			if len(f.text) < indexBytes {
				s.short = append(s.short, e)
				shortChanged = true
				continue
			}
			// Forms of minSecretPrefixBytes or more are indexed by that
			// many bytes: every match, whole or cut short, shares them.
			// Shorter ones by indexBytes. An encoded form is kept as its
			// value, and its index key copied out of the form, which is
			// not kept.
			key := indexKey(f.text)
			if f.enc != encNone {
				e = newKept(v, f.enc, isValue, secs)
				key = strings.Clone(key)
			}
			s.byPrefix[key] = slices.Insert(list, at, e)
		}
	}
	if shortChanged {
		sort.SliceStable(s.short, func(i, j int) bool { return s.short[i].len() > s.short[j].len() })
	}
}

// allKeptUntil reports, under the read lock, whether every value is kept
// until at least until (Unix nanos; foreverNanos: for the scrubber's
// life) and no sweep is due (now zero: none is looked at). The client
// keeps the token of every call, and most are kept already.
func (s *Scrubber) allKeptUntil(now time.Time, until int64, values []string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !now.IsZero() && !now.Before(s.nextSweep) {
		return false
	}
	for _, v := range values {
		if len(v) < minSecretBytes {
			continue
		}
		list, at, ok := s.find(v)
		if !ok || !list[at].isValue() || list[at].until() < keptSecs(until) {
			return false
		}
	}
	return true
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
	if len(sc.byPrefix) == 0 && len(sc.short) == 0 {
		return s
	}
	for _, e := range sc.short {
		if f := e.form(); strings.Contains(s, f) {
			s = strings.ReplaceAll(s, f, Redacted)
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
func longestMatch(text string, list []kept) int {
	best := 0
	for _, e := range list {
		l := e.len()
		if l <= best {
			break
		}
		n := encodedCommonPrefix(e.enc(), e.form(), text)
		if n == l {
			return l
		}
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
