package alerts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/notify"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// Delivery (docs/reliability.md#delivered-at-least-once): what a run claims
// is owed to each robot until that robot accepted it. Each robot has an
// outbox in the store:
//
//	PREFIX notify:outbox:<robot id>          the head: the owed batches, and a lease
//	PREFIX notify:outbox:<robot id>:<batch>  one batch: at most batchSize changes
//
// The robot id is a hash of its kind and token (notify.Channel.ID), never
// the token. A run appends what it claimed (batches first, then the head,
// with CompareAndSwap), then, holding the head's lease, sends everything
// owed in one message and removes what the robot accepted (CompareAndSwap
// again, so that batches appended meanwhile stay). Only the lease holder
// sends, so two instances never send the same change; a sender that dies
// holding the lease loses it after leaseFor, and a later run sends what it
// owed. A batch owed for OwedFor is dropped, logged and counted
// (DroppedNotifications).
const (
	// OwedFor is how long a change stays owed to a robot that does not
	// accept it; after that it is dropped, with a log line and a metric.
	OwedFor = 24 * time.Hour
	// batchSize bounds the changes of one batch, so that an item stays far
	// below DynamoDB's 400 KB (a change is at most about 1 KB).
	batchSize = 100
	// maxBatches bounds what is owed to one robot (the head's size); past
	// it the oldest batches are dropped, logged and counted.
	maxBatches = 1000
	// leaseFor is how long a sender holds a robot's outbox: longer than
	// any send (NotifyBudget).
	leaseFor = 30 * time.Second
	// leasePoll is how often a run waiting for another's lease looks again.
	leasePoll = 50 * time.Millisecond
	// settleTime is kept free after the sends, within the alert path's
	// deadline, to record what the robots accepted.
	settleTime = 50 * time.Millisecond
	// casAttempts bounds the retries of a contended head.
	casAttempts = 16
)

// errLeased means another instance holds the robot's lease.
var errLeased = errors.New("another instance is sending to this robot")

// head is an outbox's head.
type head struct {
	Batches []batchRef `json:"b,omitempty"`
	Lease   *lease     `json:"l,omitempty"`
}

// batchRef is one owed batch.
type batchRef struct {
	ID string `json:"k"`
	N  int    `json:"n"`
	At int64  `json:"t"` // when it became owed, Unix milliseconds (the run's time)
}

type lease struct {
	Owner string `json:"o"`
	Until int64  `json:"u"` // Unix milliseconds, real time
}

// batch is one batch's value.
type batch struct {
	Changes []Change `json:"c"`
}

// outbox is one robot's outbox.
type outbox struct {
	st  store.Store
	key string
}

func outboxOf(st store.Store, prefix string, ch notify.Channel) outbox {
	return outbox{st: st, key: prefix + "notify:outbox:" + ch.ID()}
}

func (o outbox) batchKey(id string) string { return o.key + ":" + id }

func decodeHead(v store.Value) head {
	var h head
	if v.Data != nil && json.Unmarshal(v.Data, &h) != nil {
		// A corrupt head is replaced: what it listed is lost, which the
		// next append or settle logs as nothing; better than never
		// delivering again.
		h = head{}
	}
	return h
}

// expiry is when an outbox key written now may go: after everything in it
// is past OwedFor. Expiry is the store's real time; how long a change is
// owed is measured on the runs' clock.
func expiry() time.Time { return time.Now().Add(OwedFor + time.Hour) }

// update applies fn to the head with CompareAndSwap, re-reading when
// another writer got there first. fn returns false to write nothing.
func (o outbox) update(ctx context.Context, fn func(*head) bool) error {
	for range casAttempts {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("outbox: %w (%w)", store.ErrUnavailable, err)
		}
		v, err := o.st.Get(ctx, o.key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("outbox: read: %w", err)
		}
		var old []byte
		if err == nil {
			old = v.Data
		}
		h := decodeHead(v)
		if !fn(&h) {
			return nil
		}
		var ok bool
		if len(h.Batches) == 0 && h.Lease == nil {
			if old == nil {
				return nil
			}
			ok, err = o.st.CompareAndDelete(ctx, o.key, old)
		} else {
			data, merr := json.Marshal(h)
			if merr != nil {
				return fmt.Errorf("outbox: encode: %w", merr)
			}
			ok, err = o.st.CompareAndSwap(ctx, o.key, old, store.Value{Data: data, Expires: expiry()})
		}
		if err != nil {
			return fmt.Errorf("outbox: write: %w", err)
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("outbox: still contended after %d attempts: %w", casAttempts, store.ErrUnavailable)
}

// append makes changes owed, as of now. It returns how many older changes
// were dropped to keep the outbox within maxBatches.
func (o outbox) append(ctx context.Context, changes []Change, now time.Time) (dropped int, err error) {
	if len(changes) == 0 {
		return 0, nil
	}
	var refs []batchRef
	for start := 0; start < len(changes); start += batchSize {
		part := changes[start:min(start+batchSize, len(changes))]
		data, err := json.Marshal(batch{Changes: part})
		if err != nil {
			return 0, fmt.Errorf("outbox: encode batch: %w", err)
		}
		id := strconv.FormatInt(now.UnixMilli(), 10) + "-" + randomID()
		if err := o.st.Set(ctx, o.batchKey(id), store.Value{Data: data, Expires: expiry()}); err != nil {
			return 0, fmt.Errorf("outbox: write batch: %w", err)
		}
		refs = append(refs, batchRef{ID: id, N: len(part), At: now.UnixMilli()})
	}
	var over []batchRef
	err = o.update(ctx, func(h *head) bool {
		h.Batches = append(h.Batches, refs...)
		over = nil
		if n := len(h.Batches) - maxBatches; n > 0 {
			over = append(over, h.Batches[:n]...)
			h.Batches = h.Batches[n:]
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	for _, r := range over {
		dropped += r.N
		_ = o.st.Delete(ctx, o.batchKey(r.ID)) // expires anyway
	}
	return dropped, nil
}

// acquire takes the lease for owner, waiting while another holds it, until
// giveUp. It returns the head as it was taken. The lease lasts leaseFor,
// or until ctx's deadline if that is sooner: after it the holder sends
// nothing, so a holder that could not release it holds up no one longer.
func (o outbox) acquire(ctx context.Context, owner string, giveUp time.Time) (head, error) {
	for {
		var taken head
		busy := false
		err := o.update(ctx, func(h *head) bool {
			now := time.Now()
			if h.Lease != nil && h.Lease.Owner != owner && now.UnixMilli() < h.Lease.Until {
				busy = true
				return false
			}
			busy = false
			until := now.Add(leaseFor)
			if dl, ok := ctx.Deadline(); ok && dl.Before(until) {
				until = dl
			}
			h.Lease = &lease{Owner: owner, Until: until.UnixMilli()}
			taken = *h
			return true
		})
		if err != nil {
			return head{}, err
		}
		if !busy {
			return taken, nil
		}
		if time.Now().Add(leasePoll).After(giveUp) {
			return head{}, errLeased
		}
		t := time.NewTimer(leasePoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return head{}, errLeased
		case <-t.C:
		}
	}
}

// settle removes the batches in done (accepted or dropped) and releases
// owner's lease, keeping whatever was appended meanwhile. It returns how
// many changes stay owed.
func (o outbox) settle(ctx context.Context, owner string, done map[string]bool) (owed int, err error) {
	err = o.update(ctx, func(h *head) bool {
		kept := h.Batches[:0]
		for _, r := range h.Batches {
			if !done[r.ID] {
				kept = append(kept, r)
			}
		}
		h.Batches = kept
		if h.Lease != nil && h.Lease.Owner == owner {
			h.Lease = nil
		}
		owed = 0
		for _, r := range h.Batches {
			owed += r.N
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	for id := range done {
		_ = o.st.Delete(ctx, o.batchKey(id)) // expires anyway
	}
	return owed, nil
}

// read returns the changes of the batches in refs, in order; refs whose
// batch is gone are returned in missing.
func (o outbox) read(ctx context.Context, refs []batchRef) (changes []Change, missing []batchRef, err error) {
	if len(refs) == 0 {
		return nil, nil, nil
	}
	keys := make([]string, len(refs))
	for i, r := range refs {
		keys[i] = o.batchKey(r.ID)
	}
	vals, err := o.st.GetMany(ctx, keys)
	if err != nil {
		return nil, nil, fmt.Errorf("outbox: read batches: %w", err)
	}
	for i, r := range refs {
		v, ok := vals[keys[i]]
		var b batch
		if !ok || json.Unmarshal(v.Data, &b) != nil {
			missing = append(missing, r)
			continue
		}
		changes = append(changes, b.Changes...)
	}
	return changes, missing, nil
}

func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
