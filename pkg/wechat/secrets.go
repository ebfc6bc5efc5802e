package wechat

import (
	"slices"
	"sort"
	"strings"
	"sync"
)

// keptSecrets holds every secret the process has seen: configured values,
// tokens it minted or read from a shared store, refresh tokens and tickets
// WeChat returned. Scrub removes all of them from any text.
var keptSecrets struct {
	mu     sync.RWMutex
	set    map[string]struct{}
	sorted []string // longest first, so that overlapping secrets are removed whole
}

// KeepSecret registers values as secrets for the life of the process: Scrub,
// and every error text the client makes, remove them. Values shorter than
// four bytes are ignored (they would match ordinary text).
func KeepSecret(values ...string) {
	keptSecrets.mu.Lock()
	defer keptSecrets.mu.Unlock()
	for _, v := range values {
		if len(v) < 4 {
			continue
		}
		if keptSecrets.set == nil {
			keptSecrets.set = map[string]struct{}{}
		}
		if _, ok := keptSecrets.set[v]; ok {
			continue
		}
		keptSecrets.set[v] = struct{}{}
		// Insert in place, longest first: a fleet registers thousands of
		// tokens, and re-sorting the whole list for each was quadratic.
		i := sort.Search(len(keptSecrets.sorted), func(i int) bool { return len(keptSecrets.sorted[i]) < len(v) })
		keptSecrets.sorted = slices.Insert(keptSecrets.sorted, i, v)
	}
}

// scrubKept removes every kept secret from s.
func scrubKept(s string) string {
	keptSecrets.mu.RLock()
	defer keptSecrets.mu.RUnlock()
	for _, sec := range keptSecrets.sorted {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	return s
}
