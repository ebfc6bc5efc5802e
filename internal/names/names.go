// Package names keeps what api_get_authorizer_info tells about each
// authorizer of a fleet — its nick_name and whether it granted permission
// set 49 (cloud development) — in the shared store for a day
// (contract section 14), so that alerts, changes and messages can name the
// merchant beside the appid.
//
// A run reads every authorizer's entry in one batch (store GetMany) and
// asks WeChat for at most [Book.PerRun] missing or expired ones, those in
// trouble first, within a small time budget: a 10,000-authorizer fleet
// never spends a run on names. A name that cannot be had is left out; it
// never fails a check.
package names

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// Defaults of a Book.
const (
	// TTL is how long a learnt entry is kept; each entry's expiry is
	// spread over the following Spread so that a fleet learnt at once does
	// not expire at once.
	TTL    = 24 * time.Hour
	Spread = 2 * time.Hour
	// FailTTL is how long a failed lookup is remembered before it is
	// tried again.
	FailTTL = time.Hour
	// PerRun bounds the lookups one run makes.
	PerRun = 32
	// Concurrency bounds the lookups in flight.
	Concurrency = 4
	// Budget bounds the time one run spends on lookups.
	Budget = 2 * time.Second
)

// Entry is what is known about one authorizer.
type Entry struct {
	// Name is its nick_name; empty when it could not be had.
	Name string `json:"name,omitempty"`
	// Principal is its principal_name.
	Principal string `json:"principal,omitempty"`
	// Known is set when the permission sets were read; then
	// CloudDevelopment says whether set 49 was granted.
	Known            bool `json:"known,omitempty"`
	CloudDevelopment bool `json:"cloud_development,omitempty"`
	// Failed is set for a lookup that failed (remembered FailTTL).
	Failed bool `json:"failed,omitempty"`
}

// LacksCloudDevelopment reports whether the entry is known and lacks
// permission set 49.
func (e Entry) LacksCloudDevelopment() bool { return e.Known && !e.CloudDevelopment }

// Lookup asks WeChat about one authorizer (wechat.Client.GetAuthorizerInfo
// with the component token).
type Lookup func(ctx context.Context, appid string) (*wechat.AuthorizerInfo, error)

// Book reads and refreshes the entries in a store.
type Book struct {
	// Store keeps the entries, under Prefix + "names:" + appid.
	Store  store.Store
	Prefix string
	// Lookup asks WeChat; nil: entries are only read.
	Lookup Lookup
	// PerRun, Concurrency and Budget bound the lookups of one Load (0:
	// the package defaults).
	PerRun      int
	Concurrency int
	Budget      time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Memo, when set, keeps the entries in this instance between runs
	// (shared by the copies of a Book).
	Memo *Memo
}

// MemoReread is how often a [Memo] reads the store for the entries it
// lacks: another instance's lookups reach it at most this late.
const MemoReread = 10 * time.Minute

// Memo keeps, in one instance, the entries its Book read or learnt until
// each expires, so that a warm instance's later runs read the store only
// for entries it lacks, and for those at most every [MemoReread]: a run
// of a fleet whose names are known costs the store no round trip. It is
// safe for concurrent use.
type Memo struct {
	mu     sync.Mutex
	m      map[string]memoEntry
	readAt time.Time
}

type memoEntry struct {
	e   Entry
	exp time.Time
}

// take puts into out the live entries of appids it holds, and returns
// whether the store was read lately for those it lacks and, when it was
// not, which those are (appids itself when it holds none: the caller
// must not change the list).
func (m *Memo) take(out Names, appids []string, now time.Time) (rest []string, fresh bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fresh = m.readLately(now)
	if len(m.m) == 0 {
		// Nothing kept (a first run): every appid is lacking, and the
		// caller only reads the list.
		if fresh {
			return nil, true
		}
		return appids, false
	}
	for _, id := range appids {
		if me, ok := m.m[id]; ok && now.Before(me.exp) {
			out[id] = me.e
			continue
		}
		delete(m.m, id)
		if !fresh {
			// Listed only for a read: a fleet's first runs lack every
			// name, and the list would be its every appid.
			rest = append(rest, id)
		}
	}
	return rest, fresh
}

// keep remembers e for appid until exp.
func (m *Memo) keep(appid string, e Entry, exp time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]memoEntry{}
	}
	m.m[appid] = memoEntry{e: e, exp: exp}
}

// lacking returns the appids whose entries take would not find (appids
// itself when it is all of them), or none when the store was read for
// them lately; it changes nothing.
func (m *Memo) lacking(appids []string, now time.Time) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.readLately(now) {
		return nil
	}
	has := func(id string) bool { me, ok := m.m[id]; return ok && now.Before(me.exp) }
	i := slices.IndexFunc(appids, has)
	if i < 0 {
		return appids
	}
	out := slices.Clone(appids[:i])
	for _, id := range appids[i+1:] {
		if !has(id) {
			out = append(out, id)
		}
	}
	return out
}

// readLately reports whether the store was read for the entries lacking
// less than MemoReread before now. Callers hold m.mu.
func (m *Memo) readLately(now time.Time) bool {
	d := now.Sub(m.readAt)
	return !m.readAt.IsZero() && d >= 0 && d < MemoReread
}

// read records that the store was read for every entry lacking at now.
func (m *Memo) read(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.readAt = now
}

// Lacking returns the appids whose entries a Load of appids would read
// from the store now (with a Memo: those it lacks, none when it read them
// lately), for a run to read ahead in a batch it makes anyway; appids
// itself when it is all of them.
func (b *Book) Lacking(appids []string) []string {
	if b.Memo == nil {
		return appids
	}
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	return b.Memo.lacking(appids, now())
}

// Key is the store key of appid's entry.
func Key(prefix, appid string) string { return prefix + "names:" + appid }

// Names maps appids to entries.
type Names map[string]Entry

// Name returns appid's name, "" when unknown.
func (n Names) Name(appid string) string { return n[appid].Name }

// Stats says what a Load did.
type Stats struct {
	// Read is how many entries the store held.
	Read int
	// Looked is how many lookups were made; Failed how many failed.
	Looked, Failed int
	// Missing is how many authorizers still have no entry.
	Missing int
}

// Load returns the entries of appids: it reads them all in one batch
// (with a Memo: only those it lacks, at most every MemoReread),
// then looks up at most PerRun of the missing ones within Budget — first
// those in urgent (the authorizers of this run's changes), then the rest in
// appids' order — and stores what it learnt. A store that cannot be read
// gives what the lookups learn; nothing here fails a run. The error is for
// the log only.
func (b *Book) Load(ctx context.Context, appids, urgent []string) (Names, Stats, error) {
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	// Not sized for appids: a fleet's first runs know few names, and a
	// map sized for 10,000 entries costs about a megabyte.
	out := Names{}
	var st Stats
	var errs []error
	toRead := appids
	if b.Memo != nil {
		var fresh bool
		toRead, fresh = b.Memo.take(out, appids, now())
		st.Read = len(out)
		if fresh {
			toRead = nil
		}
	}
	if len(toRead) > 0 {
		readAt := now()
		if err := b.read(ctx, toRead, readAt, out, &st); err != nil {
			errs = append(errs, err)
		} else if b.Memo != nil {
			b.Memo.read(readAt)
		}
	}
	if b.Lookup != nil {
		todo := b.missing(out, appids, urgent)
		st.Looked = len(todo)
		learnt, failed, err := b.lookup(ctx, todo, now)
		st.Failed = failed
		if err != nil {
			errs = append(errs, err)
		}
		for id, e := range learnt {
			out[id] = e
		}
	}
	for _, id := range appids {
		if _, ok := out[id]; !ok {
			st.Missing++
		}
	}
	return out, st, errors.Join(errs...)
}

// readChunk is how many entries one GetMany of Load asks for: a fleet's
// first run reads every authorizer's, and 10,000 keys at once would be
// half a megabyte of them at the end of the run.
const readChunk = 1000

// read reads the entries of ids from the store into out, readChunk at a
// time, keeping them in the Memo.
func (b *Book) read(ctx context.Context, ids []string, readAt time.Time, out Names, st *Stats) error {
	return store.EachOf(ctx, b.Store, len(ids), readChunk, func(i int) string { return Key(b.Prefix, ids[i]) },
		func(i int, v store.Value) bool {
			var e Entry
			if json.Unmarshal(v.Data, &e) != nil {
				return true
			}
			id := ids[i]
			out[id] = e
			st.Read++
			if b.Memo != nil {
				exp := v.Expires
				if exp.IsZero() {
					exp = readAt.Add(TTL)
				}
				b.Memo.keep(id, e, exp)
			}
			return true
		})
}

// missing picks the appids to look up: urgent ones first, then the rest,
// at most PerRun, each once.
func (b *Book) missing(have Names, appids, urgent []string) []string {
	limit := b.PerRun
	if limit <= 0 {
		limit = PerRun
	}
	// Whether an urgent appid is in the run: a fleet's appids are sorted,
	// and then a search finds it without a set of every appid.
	inRun := func(id string) bool { _, ok := slices.BinarySearch(appids, id); return ok }
	if !slices.IsSorted(appids) {
		set := make(map[string]bool, len(appids))
		for _, id := range appids {
			set[id] = true
		}
		inRun = func(id string) bool { return set[id] }
	}
	var todo []string
	seen := map[string]bool{}
	add := func(id string) bool {
		if len(todo) >= limit {
			return false
		}
		if _, ok := have[id]; ok || seen[id] || !inRun(id) {
			return true
		}
		seen[id] = true
		todo = append(todo, id)
		return true
	}
	for _, id := range urgent {
		if !add(id) {
			return todo
		}
	}
	for _, id := range appids {
		if !add(id) {
			break
		}
	}
	return todo
}

// lookup asks WeChat about todo, Concurrency at a time, within Budget, and
// stores each answer (or failure). A failure that is not the authorizer's
// own (the component token, the network) stops the other lookups: they
// would fail the same way.
func (b *Book) lookup(ctx context.Context, todo []string, now func() time.Time) (Names, int, error) {
	if len(todo) == 0 {
		return nil, 0, nil
	}
	budget := b.Budget
	if budget <= 0 {
		budget = Budget
	}
	workers := b.Concurrency
	if workers <= 0 {
		workers = Concurrency
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	var (
		mu      sync.Mutex
		out     = Names{}
		failed  int
		errs    []error
		next    int
		stopped bool
		wg      sync.WaitGroup
	)
	take := func() (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if stopped || next >= len(todo) || ctx.Err() != nil {
			return "", false
		}
		next++
		return todo[next-1], true
	}
	for range min(workers, len(todo)) {
		wg.Go(func() {
			for {
				id, ok := take()
				if !ok {
					return
				}
				e, own, err := b.ask(ctx, id)
				if err != nil && !own {
					mu.Lock()
					stopped = true
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				exp := now().Add(FailTTL)
				if err == nil {
					exp = now().Add(TTL + spread(id))
				}
				data, _ := json.Marshal(e) // an Entry always encodes
				werr := b.Store.Set(ctx, Key(b.Prefix, id), store.Value{Data: data, Expires: exp})
				if b.Memo != nil && werr == nil {
					// A failed lookup is remembered too, so that it is not
					// tried again before FailTTL.
					b.Memo.keep(id, e, exp)
				}
				mu.Lock()
				if err != nil {
					failed++
				} else {
					out[id] = e
				}
				if werr != nil && len(errs) == 0 {
					errs = append(errs, werr)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out, failed, errors.Join(errs...)
}

// ask looks up one authorizer. own reports whether a failure is the
// authorizer's own (an errcode about it), to be remembered, rather than
// one every lookup would meet.
func (b *Book) ask(ctx context.Context, appid string) (Entry, bool, error) {
	info, err := b.Lookup(ctx, appid)
	if err != nil {
		var we *wechat.Error
		own := errors.As(err, &we) && (we.ErrCode == errNotAuthorized || we.Kind == wechat.KindBadResponse || we.Kind == wechat.KindInvalidRequest)
		return Entry{Failed: true}, own, err
	}
	return Entry{Name: info.NickName, Principal: info.PrincipalName, Known: true,
		CloudDevelopment: info.HasFunc(wechat.FuncCloudDevelopment)}, true, nil
}

// errNotAuthorized is WeChat's errcode for an appid that has not
// authorized the platform.
const errNotAuthorized = 61003

// spread is appid's share of Spread, stable across runs.
func spread(appid string) time.Duration {
	h := fnv.New32a()
	h.Write([]byte(appid))
	return time.Duration(h.Sum32()%uint32(Spread/time.Minute)) * time.Minute
}
