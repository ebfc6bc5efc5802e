package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alertstate"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// casAttempts bounds a compare-and-swap loop on one run record. Every
// worker of a run sets its bit in the same record, so the bound is
// generous; a loop that still loses fails the batch, which comes back.
const casAttempts = 64

// Runs keeps queued runs in a store.
type Runs struct {
	Store  store.Store
	Prefix string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (r *Runs) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Get reads a run's record; nil when there is none.
func (r *Runs) Get(ctx context.Context, run string) (*Record, []byte, error) {
	v, err := r.Store.Get(ctx, runKey(r.Prefix, run))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("queue: read run %s: %w", run, err)
	}
	var rec Record
	if err := json.Unmarshal(v.Data, &rec); err != nil {
		return nil, nil, fmt.Errorf("queue: run %s: a record that does not decode: %w", run, store.ErrUnavailable)
	}
	return &rec, v.Data, nil
}

// update applies change to the run's record with compare-and-swap until
// it sticks. change returns false to leave the record as it is. create
// allows a run without a record (change gets a zero Record).
func (r *Runs) update(ctx context.Context, run string, create bool, change func(rec *Record) (bool, error)) (*Record, error) {
	key := runKey(r.Prefix, run)
	for range casAttempts {
		rec, old, err := r.Get(ctx, run)
		if err != nil {
			return nil, err
		}
		if rec == nil {
			if !create {
				return nil, fmt.Errorf("queue: run %s has no record (older than %s, or never planned)", run, RecordTTL)
			}
			rec = &Record{Run: run}
		}
		write, err := change(rec)
		if err != nil || !write {
			return rec, err
		}
		data, err := json.Marshal(rec)
		if err != nil {
			return nil, err
		}
		ok, err := r.Store.CompareAndSwap(ctx, key, old, store.Value{Data: data, Expires: r.now().Add(RecordTTL)})
		if err != nil {
			return nil, fmt.Errorf("queue: write run %s: %w", run, err)
		}
		if ok {
			return rec, nil
		}
	}
	return nil, fmt.Errorf("queue: run %s still contended after %d attempts: %w", run, casAttempts, store.ErrUnavailable)
}

// Done reports whether batch i of run was already worked.
func (r *Runs) Done(ctx context.Context, run string, i int) (bool, error) {
	rec, _, err := r.Get(ctx, run)
	if err != nil {
		return false, err
	}
	return rec != nil && rec.done(i), nil
}

// outbox is what a batch keeps for the run's message.
type outbox struct {
	Changes   []alertstate.Change `json:"changes,omitempty"`
	Reminders []alertstate.Change `json:"reminders,omitempty"`
}

// Keep adds the changes and reminders a batch claimed to its outbox. The
// alert state hands each change to exactly one caller, so what a
// redelivered batch adds was not kept before.
func (r *Runs) Keep(ctx context.Context, run string, i int, changes, reminders []alertstate.Change) error {
	if len(changes) == 0 && len(reminders) == 0 {
		return nil
	}
	key := changesKey(r.Prefix, run, i)
	for range casAttempts {
		var box outbox
		var old []byte
		v, err := r.Store.Get(ctx, key)
		switch {
		case err == nil:
			old = v.Data
			if err := json.Unmarshal(v.Data, &box); err != nil {
				return fmt.Errorf("queue: the outbox of batch %d of run %s does not decode: %w", i, run, store.ErrUnavailable)
			}
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("queue: read the outbox of batch %d of run %s: %w", i, run, err)
		}
		box.Changes = append(box.Changes, changes...)
		box.Reminders = append(box.Reminders, reminders...)
		data, err := json.Marshal(box)
		if err != nil {
			return err
		}
		ok, err := r.Store.CompareAndSwap(ctx, key, old, store.Value{Data: data, Expires: r.now().Add(RecordTTL)})
		if err != nil {
			return fmt.Errorf("queue: write the outbox of batch %d of run %s: %w", i, run, err)
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("queue: the outbox of batch %d of run %s still contended: %w", i, run, store.ErrUnavailable)
}

// Finish marks batch i of run done. last reports whether this call
// completed the run: then the caller sends the run's message (Collect).
// Marking a batch already done changes nothing and is never last.
func (r *Runs) Finish(ctx context.Context, run string, i int) (last bool, err error) {
	_, err = r.update(ctx, run, false, func(rec *Record) (bool, error) {
		last = false
		if rec.done(i) {
			return false, nil
		}
		rec.setDone(i)
		if rec.Complete() && !rec.Finished {
			rec.Finished, last = true, true
		}
		return true, nil
	})
	if err != nil {
		return false, err
	}
	return last, nil
}

// Collect reads the outboxes of a run's n batches, 100 keys a read, and
// returns every change and reminder they kept.
func (r *Runs) Collect(ctx context.Context, run string, n int) (changes, reminders []alertstate.Change, err error) {
	const chunk = 100
	for start := 0; start < n; start += chunk {
		keys := make([]string, 0, chunk)
		for i := start; i < min(start+chunk, n); i++ {
			keys = append(keys, changesKey(r.Prefix, run, i))
		}
		got, err := r.Store.GetMany(ctx, keys)
		if err != nil {
			return changes, reminders, fmt.Errorf("queue: read the outboxes of run %s: %w", run, err)
		}
		for _, k := range keys {
			v, ok := got[k]
			if !ok {
				continue
			}
			var box outbox
			if json.Unmarshal(v.Data, &box) == nil {
				changes = append(changes, box.Changes...)
				reminders = append(reminders, box.Reminders...)
			}
		}
	}
	return changes, reminders, nil
}
