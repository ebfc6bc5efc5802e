// Package tokens shares WeChat access tokens through the shared store
// (internal/store), so that any number of instances mint each token once
// per lifetime (docs/contract.md#tokens-shared-across-instances), or follow
// the keys another service keeps
// (docs/contract.md#following-another-token-service). A Keeper hands out wechat.TokenSource values; the wechat client
// uses them as it uses its own cached sources.
//
// Every token source looks in this order: the instance's memory (a valid
// token, not due for renewal: the store is not even read), the store, and
// only then mints, guarded by a lease in the store so that one instance
// mints while the others wait for its result.
package tokens

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// Defaults of Options.
const (
	DefaultLeaseTTL     = 30 * time.Second
	DefaultPoll         = 25 * time.Millisecond
	DefaultRereadWait   = time.Second
	DefaultTicketMaxAge = 12 * time.Hour
	maxPoll             = 500 * time.Millisecond
	// preloadFresh is how long a refresh token read by Preload is used
	// without reading the store again.
	preloadFresh = time.Minute
	// cleanupTimeout bounds store writes made after the caller's context
	// may have ended (releasing a lease, dropping a rejected token).
	cleanupTimeout = 5 * time.Second
)

// Options configure a Keeper.
type Options struct {
	// Store is the shared store. Required.
	Store store.Store
	// Prefix is WXCLOUDENV_STORE_PREFIX; "" means DefaultPrefix.
	Prefix string
	// Client mints tokens. Required with LayoutOwn.
	Client *wechat.Client
	// Layout is WXCLOUDENV_TOKEN_LAYOUT; "" means LayoutOwn. A foreign
	// layout needs a Store that implements store.PlainGetter.
	Layout Layout
	// KeyPrefix is WXCLOUDENV_TOKEN_KEY_PREFIX (WxJava's keyPrefix).
	KeyPrefix string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// LeaseTTL is how long a lease lets one instance mint before others
	// may take over; 0 means DefaultLeaseTTL.
	LeaseTTL time.Duration
	// Poll is the first wait of an instance polling for another's mint;
	// it doubles up to 500ms. 0 means DefaultPoll.
	Poll time.Duration
	// RereadWait is how long a foreign layout waits before re-reading a
	// key whose token WeChat rejected; 0 means DefaultRereadWait.
	RereadWait time.Duration
	// InstanceID names this instance in its leases; "" means random.
	InstanceID string
}

// Keeper hands out token sources backed by the shared store. It is safe for
// concurrent use; create one per process.
type Keeper struct {
	st       store.Store
	keys     Keys
	foreign  ForeignKeys
	client   *wechat.Client
	layout   Layout
	now      func() time.Time
	leaseTTL time.Duration
	poll     time.Duration
	reread   time.Duration
	id       string    // InstanceID, or "" until instanceID draws one
	idOnce   sync.Once // draws id on the first lease: crypto/rand's first use costs a cold start about 60 µs
	leaseSeq atomic.Uint64

	// private: the store is this process's alone (store.Locals), and t
	// lives with it. An authorizer's access and refresh tokens are then
	// kept in its slot only, never copied into the store as well: a fleet
	// would hold each twice.
	private bool
	t       *table

	mu      sync.Mutex
	lister  RefreshLister         // heals a rejected refresh token (heal.go)
	tickets map[string]ticketSeen // component appid → newest ticket seen (TicketCreated)
}

// table is the keeper's memory of its keys. With a private store it is
// kept with the store, so that a Keeper rebuilt over it (a changed
// configuration) finds the tokens the store would have given it.
type table struct {
	mu    sync.Mutex
	slots map[string]*slot            // stable and component tokens, and followed keys, by store key
	auths map[string]*authorizerSlots // authorizers' own-layout tokens, by component appid (byid.go)
	locks map[*slot]*slotLock         // the slots being read or minted (lock.go)
}

// opAuthorizer is the operation of authorizer tokens.
const opAuthorizer = "authorizer_token"

// opKind is a slot's token, as a byte: a fleet keeps thousands of slots.
type opKind uint8

// opNames are the operations of the kinds, by kind.
var opNames = [...]string{"stable_token", "component_token", opAuthorizer}

const kindAuthorizer opKind = 2

// kindOf is op's kind; an unknown op is a stable token's.
func kindOf(op string) opKind {
	for i, n := range opNames {
		if n == op {
			return opKind(i)
		}
	}
	return 0
}

// op is the operation of s's token, for errors.
func (s *slot) op() string { return opNames[s.kind] }

// New returns a Keeper.
func New(o Options) (*Keeper, error) {
	if o.Store == nil {
		return nil, errors.New("tokens: no store")
	}
	if o.Layout == "" {
		o.Layout = LayoutOwn
	}
	switch o.Layout {
	case LayoutOwn:
		if o.Client == nil {
			return nil, errors.New("tokens: the wxcloudenv layout mints tokens and needs a client")
		}
	case LayoutWxJava, LayoutSilenceper:
		if _, ok := o.Store.(store.PlainGetter); !ok {
			return nil, fmt.Errorf("tokens: the %s layout needs a redis:// or rediss:// store", o.Layout)
		}
	default:
		return nil, fmt.Errorf("tokens: unknown layout %q (want wxcloudenv, wxjava or silenceper)", o.Layout)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.RereadWait <= 0 {
		o.RereadWait = DefaultRereadWait
	}
	k := &Keeper{
		st: o.Store, keys: Keys{Prefix: o.Prefix}, foreign: ForeignKeys{Layout: o.Layout, KeyPrefix: o.KeyPrefix},
		client: o.Client, layout: o.Layout, now: o.Now, leaseTTL: o.LeaseTTL, poll: o.Poll, reread: o.RereadWait,
		id: o.InstanceID,
	}
	newTable := func() any { return &table{slots: map[string]*slot{}, auths: map[string]*authorizerSlots{}} }
	if l, ok := o.Store.(store.Locals); ok && o.Layout == LayoutOwn {
		if v, ok := l.Local("tokens", newTable); ok {
			k.t, k.private = v.(*table), true
		}
	}
	if k.t == nil {
		k.t = newTable().(*table)
	}
	return k, nil
}

// instanceID names this instance in its leases: Options.InstanceID, or
// random, drawn on first use.
func (k *Keeper) instanceID() string {
	k.idOnce.Do(func() {
		if k.id == "" {
			var b [8]byte
			_, _ = rand.Read(b[:]) // never fails (crypto/rand)
			k.id = hex.EncodeToString(b[:])
		}
	})
	return k.id
}

// Keys returns the key builder of the Keeper's own layout.
func (k *Keeper) Keys() Keys { return k.keys }

// slot is the memory of one token key. A fleet keeps one per authorizer
// between runs, so it holds no more than the token (its value and times,
// not a *wechat.Token: one is made for each caller) and the refresh
// token: its lease key is built when a mint needs it, its semaphore
// exists only while held or awaited (locks), and what few slots need (the
// store key over a private store's authorizers, a rejected token, a listed
// refresh token other than the slot's own) is in rare.
type slot struct {
	mu   sync.Mutex
	kind opKind // which token: its Op in errors
	// listedIsRefresh: the refresh token WeChat's authorizer list last
	// gave (SetListed) is refresh itself, the common case.
	listedIsRefresh bool
	// loaded is when Preload read refresh (Unix seconds); 0 when this
	// instance saved it.
	loaded uint32
	// exp is the token's expiry (0: unknown) and due when it is to be
	// replaced (0: now), Unix seconds rounded down: a token is never kept
	// past its expiry, and a slot is 64 bytes instead of 80.
	exp, due uint32
	tok      string // the token, "" when none
	// An authorizer's slot keeps its refresh token: one this instance
	// saved (loaded 0) or one Preload read, which a mint uses once.
	refresh string
	rare    *slotRare
}

// slotRare is what a slot seldom holds.
type slotRare struct {
	// key is the slot's store key: "" for an authorizer's over a private
	// store, which never reads or writes it.
	key string
	// rejected is the value WeChat last rejected: with a foreign layout
	// the key's, with the own layout the token still in the store until
	// its compare-and-delete lands.
	rejected string
	// listed is the list's refresh token when it is not refresh.
	listed string
}

// key is the slot's store key.
func (s *slot) key() string {
	if s.rare == nil {
		return ""
	}
	return s.rare.key
}

// more returns s.rare, creating it. Callers hold s.mu or own s alone.
func (s *slot) more() *slotRare {
	if s.rare == nil {
		s.rare = &slotRare{}
	}
	return s.rare
}

// rejectedValue returns the value WeChat last rejected. Callers hold s.mu.
func (s *slot) rejectedValue() string {
	if s.rare == nil {
		return ""
	}
	return s.rare.rejected
}

// setRejected marks v as rejected ("" clears the mark). Callers hold s.mu.
func (s *slot) setRejected(v string) {
	if v != "" || s.rare != nil {
		s.more().rejected = v
		s.tidy()
	}
}

// tidy drops rare once it holds nothing. Callers hold s.mu.
func (s *slot) tidy() {
	if s.rare != nil && *s.rare == (slotRare{}) {
		s.rare = nil
	}
}

// listedValue returns the list's refresh token. Callers hold s.mu.
func (s *slot) listedValue() string {
	if s.listedIsRefresh {
		return s.refresh
	}
	if s.rare == nil {
		return ""
	}
	return s.rare.listed
}

// setListed remembers rt as the list's refresh token, sharing the
// slot's own when they are equal. Callers hold s.mu.
func (s *slot) setListed(rt string) {
	if rt != "" && rt == s.refresh {
		s.listedIsRefresh = true
		if s.rare != nil {
			s.rare.listed = ""
			s.tidy()
		}
		return
	}
	s.listedIsRefresh = false
	if rt != "" || s.rare != nil {
		s.more().listed = rt
		s.tidy()
	}
}

// setRefresh replaces the slot's refresh token, keeping what the list
// gave. Callers hold s.mu.
func (s *slot) setRefresh(rt string, loaded uint32) {
	listed := s.listedValue()
	if rt != "" && rt == listed {
		rt = listed // one string for both
	}
	s.refresh, s.loaded = rt, loaded
	s.setListed(listed)
}

// token returns the slot's token as a *wechat.Token, nil when none.
// Callers hold s.mu.
func (s *slot) token() *wechat.Token {
	if s.tok == "" {
		return nil
	}
	var exp time.Time
	if s.exp != 0 {
		exp = time.Unix(int64(s.exp), 0)
	}
	return wechat.NewToken(s.tok, exp)
}

// slotFor returns the slot of key, creating it.
func (k *Keeper) slotFor(key, op string) *slot {
	k.t.mu.Lock()
	defer k.t.mu.Unlock()
	s, ok := k.t.slots[key]
	if !ok {
		s = &slot{kind: kindOf(op), rare: &slotRare{key: key}}
		k.t.slots[key] = s
	}
	return s
}

// authorizerSlot returns the slot of an authorizer's token, creating it.
// A fleet keeps one per authorizer, so they are kept by appid (byid.go),
// and over a private store (which never reads or writes them) without a
// store key.
func (k *Keeper) authorizerSlot(componentAppID, authorizerAppID string) *slot {
	_, s := k.authorizerSlotID(componentAppID, authorizerAppID)
	return s
}

// authorizerSlotID is authorizerSlot that also returns the appid as the
// string the slot is kept by.
func (k *Keeper) authorizerSlotID(componentAppID, authorizerAppID string) (string, *slot) {
	k.t.mu.Lock()
	defer k.t.mu.Unlock()
	byID := k.t.auths[componentAppID]
	if byID == nil {
		byID = &authorizerSlots{}
		k.t.auths[componentAppID] = byID
	}
	if e := byID.get(authorizerAppID); e.s != nil {
		return e.id, e.s
	}
	s := &slot{kind: kindAuthorizer}
	if !k.private {
		s.rare = &slotRare{key: k.keys.AuthorizerToken(componentAppID, authorizerAppID)}
	}
	byID.add(authorizerAppID, s)
	return authorizerAppID, s
}

// findAuthorizerSlot returns the slot of an authorizer's token, nil when
// it has none.
func (k *Keeper) findAuthorizerSlot(componentAppID, authorizerAppID string) *slot {
	k.t.mu.Lock()
	defer k.t.mu.Unlock()
	byID := k.t.auths[componentAppID]
	if byID == nil {
		return nil
	}
	return byID.get(authorizerAppID).s
}

// local reports whether s's token is kept in memory only: an
// authorizer's, over a private store.
func (k *Keeper) local(s *slot) bool { return k.private && s.kind == kindAuthorizer }

// know remembers rt as the refresh token this instance saved.
func (s *slot) know(rt string) {
	s.mu.Lock()
	s.setRefresh(rt, 0)
	s.mu.Unlock()
}

// preloaded remembers rt as read from the store at now.
func (s *slot) preloaded(rt string, now time.Time) {
	s.mu.Lock()
	s.setRefresh(rt, uint32(max(now.Unix(), 1)))
	s.mu.Unlock()
}

// fresh returns the slot's token when it is not yet due.
func (s *slot) fresh(now time.Time) *wechat.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != "" && now.Unix() < int64(s.due) {
		return s.token()
	}
	return nil
}

// unixSeconds is t in Unix seconds for a slot, rounded down; 0 for the
// zero time, and the largest uint32 past 2106.
func unixSeconds(t time.Time) uint32 {
	if t.IsZero() {
		return 0
	}
	return uint32(min(max(t.Unix(), 1), math.MaxUint32))
}

// set remembers tok, to be replaced at due. The stored bytes are not
// kept: a fleet's slots stay small between runs.
func (s *slot) set(tok *wechat.Token, due time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tok, s.exp, s.due = "", 0, 0
	if tok == nil {
		return
	}
	s.tok, s.exp, s.due = tok.Value.Reveal(), unixSeconds(tok.Expiry), unixSeconds(due)
}

// drop forgets the token if it is v, and reports whether it was. Callers
// hold s.mu.
func (s *slot) drop(v string) bool {
	if s.tok == "" || s.tok != v {
		return false
	}
	s.tok, s.exp, s.due = "", 0, 0
	return true
}

// fallback returns the slot's token while it is still valid, though due,
// and err otherwise: an outage never loses a token in memory.
func (s *slot) fallback(now time.Time, err error) (*wechat.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != "" && (s.exp == 0 || now.Unix() < int64(s.exp)) {
		return s.token(), nil
	}
	return nil, err
}

// stored is how a token is encoded in the store.
type stored struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	IssuedAt  time.Time `json:"issued_at"`
}

func encodeToken(tok *wechat.Token, issued time.Time) ([]byte, error) {
	return json.Marshal(stored{Token: tok.Value.Reveal(), ExpiresAt: tok.Expiry, IssuedAt: issued})
}

// decodeToken reads a stored token; ok is false for bytes that do not hold
// one.
func decodeToken(raw []byte) (tok *wechat.Token, due time.Time, ok bool) {
	var s stored
	if json.Unmarshal(raw, &s) != nil || s.Token == "" || s.ExpiresAt.IsZero() {
		return nil, time.Time{}, false
	}
	issued := s.IssuedAt
	if issued.IsZero() || issued.After(s.ExpiresAt) {
		issued = s.ExpiresAt.Add(-wechat.DefaultTokenLifetime)
	}
	tok = wechat.NewToken(s.Token, s.ExpiresAt)
	return tok, s.ExpiresAt.Add(-wechat.RefreshMargin(issued, s.ExpiresAt)), true
}

// mintFunc mints a token for a slot.
type mintFunc func(ctx context.Context) (*wechat.Token, error)

// ownSource is a token source of the wxcloudenv layout.
type ownSource struct {
	k    *Keeper
	s    *slot
	mint mintFunc
}

// Token returns the token from memory, else from the store, else mints it
// under the store's lease.
func (o *ownSource) Token(ctx context.Context) (*wechat.Token, error) {
	if tok := o.s.fresh(o.k.now()); tok != nil {
		return tok, nil
	}
	release, err := o.k.lock(ctx, o.s)
	if err != nil {
		return o.s.fallback(o.k.now(), &wechat.Error{Kind: wechat.KindTimeout, Op: o.s.op(), Retryable: true,
			Message: "gave up waiting for a token", Err: err})
	}
	defer release()
	return o.k.obtain(ctx, o.s, o.mint)
}

// Invalidate drops tok, which WeChat rejected, from memory, and from the
// store if the store still holds that same token.
func (o *ownSource) Invalidate(tok *wechat.Token) {
	s := o.s
	s.mu.Lock()
	if tok == nil || !s.drop(tok.Value.Reveal()) {
		s.mu.Unlock() // not the token in memory: nothing to drop
		return
	}
	rejected := tok.Value.Reveal()
	if o.k.local(s) {
		s.mu.Unlock() // no store holds it
		return
	}
	// Until the compare-and-delete below lands, the store still holds
	// the rejected token: another caller of this instance must not read
	// it back into memory (remember refuses it).
	s.setRejected(rejected)
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	// The stored bytes are read back and deleted only if they still hold
	// the rejected token: a newer one stays. A failure leaves the
	// rejected token in the store: the next reader meets the rejection
	// again and drops it then.
	v, err := o.k.st.Get(ctx, s.key())
	if err != nil {
		return
	}
	if cur, _, ok := decodeToken(v.Data); ok && cur.Value.Reveal() == rejected {
		_, _ = o.k.st.CompareAndDelete(ctx, s.key(), v.Data)
	}
}

// obtain reads the store and mints under the lease. The caller holds the
// slot's lock.
func (k *Keeper) obtain(ctx context.Context, s *slot, mint mintFunc) (*wechat.Token, error) {
	delay := k.poll
	for {
		if tok := s.fresh(k.now()); tok != nil {
			return tok, nil
		}
		if k.local(s) {
			return k.mintLocal(ctx, s, mint)
		}
		tok, err := k.readStored(ctx, s)
		if err != nil {
			return s.fallback(k.now(), err)
		}
		if tok != nil {
			return tok, nil
		}
		lease := []byte(fmt.Sprintf("%s/%d", k.instanceID(), k.leaseSeq.Add(1)))
		leaseEnd := time.Now().Add(k.leaseTTL)
		won, err := k.st.CompareAndSwap(ctx, k.keys.Lease(s.key()), nil, store.Value{Data: lease, Expires: k.now().Add(k.leaseTTL)})
		if err != nil {
			return s.fallback(k.now(), k.storeError(s.op(), "take the mint lease", err))
		}
		if won {
			// The mint ends before the lease does, so that an instance
			// taking over an expired lease never mints alongside it.
			mctx, cancel := context.WithDeadline(ctx, leaseEnd.Add(-k.leaseTTL/10))
			defer cancel()
			return k.mintLeased(mctx, s, lease, mint)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return s.fallback(k.now(), &wechat.Error{Kind: wechat.KindTimeout, Op: s.op(), Retryable: true,
				Message: "gave up waiting for another instance's mint", Err: ctx.Err()})
		}
		delay = min(delay*2, maxPoll)
	}
}

// readStored reads the slot's key: a token not yet due is remembered and
// returned; a valid but due one is remembered as a fallback only.
func (k *Keeper) readStored(ctx context.Context, s *slot) (*wechat.Token, error) {
	v, err := k.st.Get(ctx, s.key())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, k.storeError(s.op(), "read the token", err)
	}
	return k.remember(s, v.Data), nil
}

// remember decodes raw into the slot and returns the token if it is not
// yet due.
func (k *Keeper) remember(s *slot, raw []byte) *wechat.Token {
	tok, due, ok := decodeToken(raw)
	now := k.now()
	if !ok || !now.Before(tok.Expiry) {
		return nil
	}
	s.mu.Lock()
	dropped := s.rejectedValue() != "" && s.rejectedValue() == tok.Value.Reveal()
	s.mu.Unlock()
	if dropped {
		return nil // WeChat rejected this very token: mint (under the lease) or wait
	}
	s.set(tok, due)
	if !now.Before(due) {
		return nil
	}
	return tok
}

// mintLeased mints while holding the lease, stores the token and releases
// the lease.
func (k *Keeper) mintLeased(ctx context.Context, s *slot, lease []byte, mint mintFunc) (*wechat.Token, error) {
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_, _ = k.st.CompareAndDelete(cctx, k.keys.Lease(s.key()), lease) // else it expires
	}()
	// Another instance may have stored a token between our read and the
	// lease: read again before minting.
	if tok, err := k.readStored(ctx, s); err != nil || tok != nil {
		if err != nil {
			return s.fallback(k.now(), err)
		}
		return tok, nil
	}
	issued := k.now()
	tok, err := mint(ctx)
	if err != nil {
		return s.fallback(k.now(), err)
	}
	raw, err := encodeToken(tok, issued)
	if err != nil {
		return nil, &wechat.Error{Kind: wechat.KindBadResponse, Op: s.op(), Message: "the token does not encode"}
	}
	due := tok.Expiry.Add(-wechat.RefreshMargin(issued, tok.Expiry))
	s.set(tok, due)
	// A failed write keeps the token in memory; other instances then mint
	// their own, which is all a store outage allows.
	_ = k.st.Set(ctx, s.key(), store.Value{Data: raw, Expires: tok.Expiry})
	return tok, nil
}

// mintLocal mints the token of a slot kept in memory only. The slot's
// lock keeps the instance's callers to one mint; no other instance reads
// the store, so no lease is needed.
func (k *Keeper) mintLocal(ctx context.Context, s *slot, mint mintFunc) (*wechat.Token, error) {
	issued := k.now()
	tok, err := mint(ctx)
	if err != nil {
		return s.fallback(k.now(), err)
	}
	s.set(tok, tok.Expiry.Add(-wechat.RefreshMargin(issued, tok.Expiry)))
	return tok, nil
}

// storeError reports a store outage as kind store.
func (k *Keeper) storeError(op, what string, err error) error {
	return &wechat.Error{Kind: wechat.KindStore, Op: op, Retryable: true,
		Message: "the shared store could not " + what, Err: scrubbed{err, k.scrubber()}}
}

// scrubber is the client's: the one the runtime holds.
func (k *Keeper) scrubber() *wechat.Scrubber { return k.client.Scrubber() }

// scrubbed keeps every kept secret out of a store error's text.
type scrubbed struct {
	err error
	sc  *wechat.Scrubber
}

func (e scrubbed) Error() string { return e.sc.Scrub(e.err.Error()) }

func (e scrubbed) Unwrap() error { return e.err }

// Component returns the source of a platform's component access token.
// With the wxcloudenv layout it mints with secret and the verify ticket
// from the store while less than 12 hours old, else ticketFallback
// (WECHAT_COMPONENT_VERIFY_TICKET).
func (k *Keeper) Component(appID, secret, ticketFallback string) wechat.TokenSource {
	const op = "component_token"
	if k.layout != LayoutOwn {
		return k.follow(k.foreign.ComponentToken(appID), op)
	}
	k.scrubber().Keep(secret, ticketFallback)
	s := k.slotFor(k.keys.ComponentToken(appID), op)
	return &ownSource{k: k, s: s, mint: func(ctx context.Context) (*wechat.Token, error) {
		ticket, err := k.ticket(ctx, appID, ticketFallback)
		if err != nil {
			return nil, err
		}
		return wechat.MintComponentToken(ctx, k.client, appID, secret, ticket)
	}}
}

// Stable returns the source of an app's stable access token. Foreign
// layouts keep no stable token: the source then fails with kind config.
func (k *Keeper) Stable(appID, secret string) wechat.TokenSource {
	const op = "stable_token"
	if k.layout != LayoutOwn {
		return failingSource{&wechat.Error{Kind: wechat.KindConfig, Op: op,
			Message: fmt.Sprintf("the %s token layout keeps no stable access token; use a component and authorizer, or the wxcloudenv layout", k.layout)}}
	}
	k.scrubber().Keep(secret)
	s := k.slotFor(k.keys.StableToken(appID), op)
	return &ownSource{k: k, s: s, mint: func(ctx context.Context) (*wechat.Token, error) {
		return wechat.MintStableToken(ctx, k.client, appID, secret)
	}}
}

// Authorizer returns the source of an authorizer's access token. With the
// wxcloudenv layout it mints with component's token and the refresh token
// from the store, else refreshFallback (WECHAT_AUTHORIZER_REFRESH_TOKEN);
// a refresh token WeChat returns is saved to the store.
func (k *Keeper) Authorizer(component wechat.TokenSource, componentAppID, authorizerAppID, refreshFallback string) wechat.TokenSource {
	if k.layout != LayoutOwn {
		return k.follow(k.foreign.AuthorizerToken(componentAppID, authorizerAppID), opAuthorizer)
	}
	// Kept for its use: the variable's value is kept for the scrubber's
	// life by the runtime already, and a fleet's values from the
	// authorizer list are dropped once no longer used.
	k.scrubber().KeepForUse(refreshFallback)
	s := k.authorizerSlot(componentAppID, authorizerAppID)
	return &ownSource{k: k, s: s, mint: func(ctx context.Context) (*wechat.Token, error) {
		return k.mintAuthorizer(ctx, s, component, componentAppID, authorizerAppID, refreshFallback)
	}}
}

// failingSource is a token source that cannot supply a token.
type failingSource struct{ err *wechat.Error }

func (f failingSource) Token(context.Context) (*wechat.Token, error) { return nil, f.err }
