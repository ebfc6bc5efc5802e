package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// casAttempts bounds the compare-and-swap loops.
const casAttempts = 16

// storedTicket is how a verify ticket is encoded in the store.
type storedTicket struct {
	Ticket     string `json:"ticket"`
	CreateTime int64  `json:"create_time"` // Unix seconds, as WeChat sends it
}

// ticket returns the verify ticket to mint with: the store's while it is
// less than 12 hours old by its CreateTime, else fallback.
func (k *Keeper) ticket(ctx context.Context, componentAppID, fallback string) (string, error) {
	v, err := k.st.Get(ctx, k.keys.Ticket(componentAppID))
	switch {
	case err == nil:
		var t storedTicket
		if json.Unmarshal(v.Data, &t) == nil && t.Ticket != "" {
			k.scrubber().KeepForUse(t.Ticket)
			if age := k.now().Sub(time.Unix(t.CreateTime, 0)); age < DefaultTicketMaxAge && age >= -TicketMaxAhead {
				return t.Ticket, nil
			}
		}
	case !errors.Is(err, store.ErrNotFound) && fallback == "":
		return "", k.storeError("component_token", "read the verify ticket", err)
	}
	if fallback == "" {
		return "", &wechat.Error{Kind: wechat.KindConfig, Op: "component_token",
			Message: "no verify ticket less than 12 hours old in the store, and WECHAT_COMPONENT_VERIFY_TICKET is unset"}
	}
	return fallback, nil
}

// TicketMaxAhead is how far ahead of the clock a ticket's CreateTime may
// be; TicketKeptFor is how long a ticket's key outlives its 12 hours.
const (
	TicketMaxAhead = 5 * time.Minute
	TicketKeptFor  = 7 * 24 * time.Hour
)

// SaveTicket stores a verify ticket pushed with createTime, unless the
// store holds one with the same or a newer CreateTime, or the ticket is
// already 12 hours old, or from more than TicketMaxAhead in the future.
// saved reports whether it was written.
func (k *Keeper) SaveTicket(ctx context.Context, componentAppID, ticket string, createTime time.Time) (saved bool, err error) {
	k.scrubber().KeepForUse(ticket)
	now := k.now()
	if ticket == "" || now.Sub(createTime) >= DefaultTicketMaxAge || createTime.Sub(now) > TicketMaxAhead {
		return false, nil
	}
	key := k.keys.Ticket(componentAppID)
	data, err := json.Marshal(storedTicket{Ticket: ticket, CreateTime: createTime.Unix()})
	if err != nil {
		return false, err
	}
	// The key outlives the ticket's use by TicketKeptFor, so that how old
	// the last ticket is stays known (the verify-ticket warning).
	v := store.Value{Data: data, Expires: createTime.Add(DefaultTicketMaxAge + TicketKeptFor)}
	ahead := k.now().Add(TicketMaxAhead).Unix()
	for range casAttempts {
		cur, err := k.st.Get(ctx, key)
		var old []byte
		switch {
		case err == nil:
			var t storedTicket
			// A stored ticket from the future (kept before pushes were
			// bounded in time) never blocks a real one.
			if json.Unmarshal(cur.Data, &t) == nil && t.CreateTime >= createTime.Unix() && t.CreateTime <= ahead {
				return false, nil
			}
			old = cur.Data
		case !errors.Is(err, store.ErrNotFound):
			return false, k.storeError("save_ticket", "read the verify ticket", err)
		}
		ok, err := k.st.CompareAndSwap(ctx, key, old, v)
		if err != nil {
			return false, k.storeError("save_ticket", "write the verify ticket", err)
		}
		if ok {
			k.seeTicket(componentAppID, time.Unix(createTime.Unix(), 0), now)
			return true, nil
		}
	}
	return false, &wechat.Error{Kind: wechat.KindStore, Op: "save_ticket", Retryable: true,
		Message: "the verify ticket kept changing while it was being saved"}
}

// storedMember is how fleet membership is encoded in the store.
type storedMember struct {
	AuthTime int64 `json:"auth_time,omitempty"` // Unix seconds, 0 when unknown
}

// AddToFleet makes an authorizer a member of the platform's fleet;
// authTime may be zero.
func (k *Keeper) AddToFleet(ctx context.Context, componentAppID, authorizerAppID string, authTime time.Time) error {
	var m storedMember
	if !authTime.IsZero() {
		m.AuthTime = authTime.Unix()
	}
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := k.st.Set(ctx, k.keys.Fleet(componentAppID, authorizerAppID), store.Value{Data: data}); err != nil {
		return k.storeError("fleet", "write the fleet", err)
	}
	return nil
}

// FleetMembers returns the authorizer appids of the platform's fleet,
// sorted.
func (k *Keeper) FleetMembers(ctx context.Context, componentAppID string) ([]string, error) {
	prefix := k.keys.FleetPrefix(componentAppID)
	keys, err := k.st.Keys(ctx, prefix)
	if err != nil {
		return nil, k.storeError("fleet", "list the fleet", err)
	}
	ids := make([]string, 0, len(keys))
	for _, key := range keys {
		if id := strings.TrimPrefix(key, prefix); id != "" && id != key {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// SaveAuthorization stores what an authorization (the webhook's code
// exchange) returned: the authorizer's access token, valid expiresIn from
// now (WeChat's default when not positive), and its refresh token, and
// adds the authorizer to the fleet. Empty values are not written.
func (k *Keeper) SaveAuthorization(ctx context.Context, componentAppID, authorizerAppID, accessToken string, expiresIn time.Duration, refreshToken string) error {
	now := k.now()
	k.scrubber().KeepForUse(refreshToken)
	if expiresIn > 0 {
		k.scrubber().KeepUntil(now.Add(min(expiresIn, wechat.MaxTokenLifetime)), accessToken)
	} else {
		k.scrubber().KeepUntil(now.Add(wechat.DefaultTokenLifetime), accessToken)
	}
	s := k.authorizerSlot(componentAppID, authorizerAppID)
	if refreshToken != "" {
		key := k.keys.Refresh(componentAppID, authorizerAppID)
		if k.local(s) {
			// A private store keeps no copy: the slot is the memory.
		} else if err := k.st.Set(ctx, key, store.Value{Data: encodeRefresh(refreshToken, now)}); err != nil {
			return k.storeError("save_authorization", "write the refresh token", err)
		}
		s.know(refreshToken)
	}
	if accessToken != "" {
		if expiresIn <= 0 {
			expiresIn = wechat.DefaultTokenLifetime
		}
		expiresIn = min(expiresIn, wechat.MaxTokenLifetime)
		tok := wechat.NewToken(accessToken, now.Add(expiresIn))
		raw, err := encodeToken(tok, now)
		if err != nil {
			return err
		}
		if !k.local(s) {
			if err := k.st.Set(ctx, s.key(), store.Value{Data: raw, Expires: tok.Expiry}); err != nil {
				return k.storeError("save_authorization", "write the access token", err)
			}
		}
		s.set(tok, tok.Expiry.Add(-wechat.RefreshMargin(now, tok.Expiry)))
	}
	return k.AddToFleet(ctx, componentAppID, authorizerAppID, now)
}

// Forget deletes an authorizer's access token, refresh token and fleet
// membership (the authorizer revoked the platform), from the store and
// from this instance's memory.
func (k *Keeper) Forget(ctx context.Context, componentAppID, authorizerAppID string) error {
	tokenKey := k.keys.AuthorizerToken(componentAppID, authorizerAppID)
	refreshKey := k.keys.Refresh(componentAppID, authorizerAppID)
	if s := k.findAuthorizerSlot(componentAppID, authorizerAppID); s != nil {
		s.set(nil, time.Time{}) // sources handed out keep the slot
		s.know("")
	}
	for _, key := range []string{tokenKey, refreshKey, k.keys.Fleet(componentAppID, authorizerAppID)} {
		if err := k.st.Delete(ctx, key); err != nil {
			return k.storeError("forget", "delete "+key, err)
		}
	}
	return nil
}

// Preload reads the stored access and refresh tokens of many authorizers
// with one GetMany, so that a fleet run makes one round trip instead of
// one per authorizer. Chunk large fleets (a few hundred appids a call).
// Valid tokens land in memory; refresh tokens are used by a mint within a
// minute. With a foreign layout Preload does nothing.
func (k *Keeper) Preload(ctx context.Context, componentAppID string, authorizerAppIDs []string) error {
	return k.PreloadListed(ctx, componentAppID, authorizerAppIDs, nil)
}

// PreloadListed is Preload that also writes back, for each authorizer whose
// refresh token the store lacks while its access token is valid (so that
// no mint will store one), the one WeChat's authorizer list gave (listed,
// by appid): the store is again the durable copy even when no mint is
// needed. A refresh token the store holds is never
// replaced: it may be newer (rotated) than the list's.
func (k *Keeper) PreloadListed(ctx context.Context, componentAppID string, authorizerAppIDs []string, listed map[string]string) error {
	_, err := k.preload(ctx, componentAppID, authorizerAppIDs, func(appid string, _ *slot) string { return listed[appid] }, nil)
	return err
}

// preload is PreloadListed with the list's refresh token of each
// authorizer given by listed, and extra's keys (listed.go) read in the
// same batch.
func (k *Keeper) preload(ctx context.Context, componentAppID string, authorizerAppIDs []string, listed func(appid string, s *slot) string, extra func() []string) (map[string]store.Value, error) {
	if k.layout != LayoutOwn || len(authorizerAppIDs) == 0 || k.private {
		return nil, nil // a private store holds no authorizer's tokens: the slots do
	}
	keys := make([]string, 0, 2*len(authorizerAppIDs))
	for _, a := range authorizerAppIDs {
		keys = append(keys, k.keys.AuthorizerToken(componentAppID, a), k.keys.Refresh(componentAppID, a))
	}
	n := len(keys)
	if extra != nil {
		keys = append(keys, extra()...)
	}
	got, err := k.st.GetMany(ctx, keys)
	if err != nil {
		return nil, k.storeError("preload", "read the fleet's tokens", err)
	}
	more := extraValues(got, keys[n:])
	keys = keys[:n]
	// Keep every value at once: the scrubber sorts its list per call. A
	// token until it expires, a refresh token for its use.
	sc := k.scrubber()
	for _, v := range got {
		var x struct {
			Token        string    `json:"token"`
			ExpiresAt    time.Time `json:"expires_at"`
			RefreshToken string    `json:"refresh_token"`
		}
		if json.Unmarshal(v.Data, &x) == nil {
			if x.Token != "" {
				sc.KeepUntil(x.ExpiresAt, x.Token)
			}
			sc.KeepForUse(x.RefreshToken)
		}
	}
	now := k.now()
	var adopt []adoption
	for i := 0; i < len(keys); i += 2 {
		valid := false
		s := k.authorizerSlot(componentAppID, authorizerAppIDs[i/2])
		if v, ok := got[keys[i]]; ok {
			valid = k.remember(s, v.Data) != nil
		}
		if v, ok := got[keys[i+1]]; ok {
			if rt := k.decodeRefresh(v.Data); rt != "" {
				s.preloaded(rt, now)
				continue
			}
		}
		// An authorizer whose access token must be minted stores the
		// list's refresh token when the mint succeeds; one with a valid
		// access token makes no mint, so its refresh token is written here.
		if rt := listed(authorizerAppIDs[i/2], s); rt != "" && valid {
			adopt = append(adopt, adoption{key: keys[i+1], rt: rt, s: s})
		}
	}
	return more, k.adopt(ctx, adopt)
}

// TicketCreated returns the CreateTime of the verify ticket the store
// keeps for the platform (own layout), and false when it keeps none. It
// reads the store only: the ticket itself is never returned.
//
// A read serves this instance for TicketSeenFor (warm invocations do not
// read the store each time); a ticket this instance saves is seen at once.
// A ticket is only ever replaced by a newer one, so a caller that only
// needs to know whether the newest is older than some age passes that age
// as fresh: while the ticket seen is younger, the store is not read again
// (0: TicketSeenFor alone).
func (k *Keeper) TicketCreated(ctx context.Context, componentAppID string, fresh time.Duration) (time.Time, bool, error) {
	now := k.now()
	k.mu.Lock()
	seen, ok := k.tickets[componentAppID]
	k.mu.Unlock()
	read, age := now.Sub(seen.readAt), now.Sub(seen.created)
	if ok && (read >= 0 && read < TicketSeenFor || !seen.created.IsZero() && age >= 0 && age < fresh) {
		return seen.created, !seen.created.IsZero(), nil
	}
	v, err := k.st.Get(ctx, k.keys.Ticket(componentAppID))
	var created time.Time
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return time.Time{}, false, k.storeError("verify_ticket", "read the verify ticket", err)
	default:
		var t storedTicket
		if json.Unmarshal(v.Data, &t) == nil && t.Ticket != "" {
			k.scrubber().KeepForUse(t.Ticket)
			created = time.Unix(t.CreateTime, 0)
		}
	}
	k.seeTicket(componentAppID, created, now)
	return created, !created.IsZero(), nil
}

// TicketSeenFor is how long a read of the verify ticket's CreateTime
// serves TicketCreated.
const TicketSeenFor = time.Minute

// ticketSeen is the CreateTime of a platform's newest ticket, as last read
// or saved by this instance (zero: none kept).
type ticketSeen struct {
	created time.Time
	readAt  time.Time
}

// seeTicket remembers a platform's newest ticket's CreateTime.
func (k *Keeper) seeTicket(componentAppID string, created, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.tickets == nil {
		k.tickets = map[string]ticketSeen{}
	}
	k.tickets[componentAppID] = ticketSeen{created: created, readAt: now}
}
