package wechat

import (
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// keptSecrets holds every secret the process has seen: configured values,
// tokens it minted or read from a shared store, refresh tokens and tickets
// WeChat returned. Scrub removes all of them from any text.
//
// A fleet holds tens of thousands of tokens, so Scrub does not try each
// secret in turn: secrets of at least MinSecretPrefixBytes bytes are
// indexed by their first MinSecretPrefixBytes bytes, those of indexBytes
// or more by their first indexBytes, and Scrub looks each position of
// the text up at most twice. Each secret is kept as given and in the forms it takes when
// quoted (%q, JSON) or URL-encoded, when those differ.
var keptSecrets struct {
	mu sync.RWMutex
	// byPrefix maps the first indexBytes bytes of each long secret form to
	// the forms that start with them, longest first.
	byPrefix map[string][]string
	// short are the forms shorter than indexBytes, longest first.
	short []string
	// all is every form, for dropping repeats.
	all map[string]struct{}
	// forever holds the values kept for the life of the process, until
	// those kept until a time (KeepSecretUntil).
	forever map[string]struct{}
	until   map[string]time.Time
	// nextSweep is when expired values are next dropped.
	nextSweep time.Time
}

// SecretSweepInterval is how often values kept with KeepSecretUntil are
// checked for having passed their time. A fleet's tokens are replaced
// every two hours; without an end, the registry would grow for as long
// as the process lives.
const secretSweepInterval = 10 * time.Minute

// KeptAfterExpiry is how long the client keeps a token it used after the
// token's expiry: an expired token is worthless, but a log line may still
// carry it for a while.
const keptAfterExpiry = 24 * time.Hour

const (
	// minSecretBytes is the shortest secret kept: shorter values would
	// match ordinary text.
	minSecretBytes = 4
	// indexBytes is the length of the prefix that indexes secrets.
	indexBytes = 8
	// MinSecretPrefixBytes is the shortest prefix of a secret that Scrub
	// removes as if it were the secret: a long secret cut short in a text
	// (a truncated log field) still reveals most of itself.
	minSecretPrefixBytes = 16
)

// KeepSecret registers values as secrets for the life of the process: Scrub,
// and every error text the client makes, remove them. Values shorter than
// four bytes are ignored (they would match ordinary text).
func KeepSecret(values ...string) {
	if allKept(values) {
		return
	}
	keptSecrets.mu.Lock()
	defer keptSecrets.mu.Unlock()
	if keptSecrets.forever == nil {
		keptSecrets.forever = map[string]struct{}{}
	}
	for _, v := range values {
		if len(v) >= minSecretBytes {
			delete(keptSecrets.until, v) // for the life of the process now
			keptSecrets.forever[v] = struct{}{}
		}
	}
	keepLocked(values)
}

// KeepSecretUntil is KeepSecret for values that stop mattering at a known
// time, such as a token and its expiry: they are dropped some time after
// until (within SecretSweepInterval), unless KeepSecret kept them too.
// Keeping a value again moves its time later, never earlier.
func KeepSecretUntil(until time.Time, values ...string) {
	if allKeptUntil(until, values) {
		return
	}
	keptSecrets.mu.Lock()
	defer keptSecrets.mu.Unlock()
	now := time.Now()
	if now.After(keptSecrets.nextSweep) {
		sweepLocked(now)
		keptSecrets.nextSweep = now.Add(secretSweepInterval)
	}
	if keptSecrets.until == nil {
		keptSecrets.until = map[string]time.Time{}
	}
	for _, v := range values {
		if len(v) < minSecretBytes {
			continue
		}
		if _, ok := keptSecrets.forever[v]; ok {
			continue
		}
		if t := keptSecrets.until[v]; until.After(t) {
			keptSecrets.until[v] = until
		}
	}
	keepLocked(values)
}

// sweepLocked drops the values whose time has passed: it rebuilds the
// index from the values still kept, so that a form two values share
// stays as long as either does.
func sweepLocked(now time.Time) {
	expired := false
	for v, t := range keptSecrets.until {
		if now.After(t) {
			delete(keptSecrets.until, v)
			expired = true
		}
	}
	if !expired {
		return
	}
	keptSecrets.all, keptSecrets.byPrefix, keptSecrets.short = nil, nil, nil
	keepLocked(keys(keptSecrets.forever))
	keepLocked(keys(keptSecrets.until))
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// keepLocked adds values and their forms to the registry.
func keepLocked(values []string) {
	if keptSecrets.all == nil {
		keptSecrets.all = map[string]struct{}{}
		keptSecrets.byPrefix = map[string][]string{}
	}
	shortChanged := false
	for _, v := range values {
		if len(v) < minSecretBytes {
			continue
		}
		for _, f := range secretForms(v) {
			if _, ok := keptSecrets.all[f]; ok {
				continue
			}
			keptSecrets.all[f] = struct{}{}
			if len(f) < indexBytes {
				keptSecrets.short = append(keptSecrets.short, f)
				shortChanged = true
				continue
			}
			// Forms of MinSecretPrefixBytes or more are indexed by that
			// many bytes: every match, whole or cut short, shares them.
			// Shorter ones by indexBytes.
			p := f[:indexBytes]
			if len(f) >= minSecretPrefixBytes {
				p = f[:minSecretPrefixBytes]
			}
			list := keptSecrets.byPrefix[p]
			at := sort.Search(len(list), func(j int) bool { return len(list[j]) < len(f) })
			keptSecrets.byPrefix[p] = slices.Insert(list, at, f)
		}
	}
	if shortChanged {
		sort.SliceStable(keptSecrets.short, func(i, j int) bool { return len(keptSecrets.short[i]) > len(keptSecrets.short[j]) })
	}
}

// allKept reports, under the read lock, whether every value is kept
// already (or too short to keep): the client registers the token of every
// call, and most are.
func allKept(values []string) bool {
	keptSecrets.mu.RLock()
	defer keptSecrets.mu.RUnlock()
	for _, v := range values {
		if _, ok := keptSecrets.forever[v]; !ok && len(v) >= minSecretBytes {
			return false
		}
	}
	return true
}

// allKeptUntil is allKept for KeepSecretUntil: every value is kept for
// life or until at least until, and no sweep is due.
func allKeptUntil(until time.Time, values []string) bool {
	keptSecrets.mu.RLock()
	defer keptSecrets.mu.RUnlock()
	if time.Now().After(keptSecrets.nextSweep) {
		return false
	}
	for _, v := range values {
		if len(v) < minSecretBytes {
			continue
		}
		if _, ok := keptSecrets.forever[v]; ok {
			continue
		}
		if t, ok := keptSecrets.until[v]; !ok || t.Before(until) {
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
// MinSecretPrefixBytes of one, from s. Where secrets overlap, the longest
// match at the leftmost position wins.
func scrubKept(s string) string {
	keptSecrets.mu.RLock()
	defer keptSecrets.mu.RUnlock()
	if len(keptSecrets.all) == 0 {
		return s
	}
	for _, sec := range keptSecrets.short {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	if len(keptSecrets.byPrefix) == 0 || len(s) < indexBytes {
		return s
	}
	var b strings.Builder
	done := 0 // s[:done] is written to b or dropped
	for i := 0; i+indexBytes <= len(s); {
		n := 0
		if i+minSecretPrefixBytes <= len(s) {
			if list, ok := keptSecrets.byPrefix[s[i:i+minSecretPrefixBytes]]; ok {
				n = longestMatch(s[i:], list)
			}
		}
		if n == 0 {
			if list, ok := keptSecrets.byPrefix[s[i:i+indexBytes]]; ok {
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
// MinSecretPrefixBytes of one that text starts with and ends at the end
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
