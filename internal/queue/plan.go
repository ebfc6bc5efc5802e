package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/fleet"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// Fleet is what the planner reads: the platform's authorizers, page by
// page, never the whole fleet at once.
type Fleet interface {
	// Members returns the authorizers that authorization events put in the
	// store.
	Members(ctx context.Context) ([]string, error)
	// Pages calls page with each page of WeChat's authorizer list, in
	// order, and stops at the first error page returns.
	Pages(ctx context.Context, page func(appids []string) error) error
}

// Sender puts batches on the queue.
type Sender interface {
	// Limits are the most messages, and bytes of them, one Send takes.
	Limits() (messages, bytes int)
	// Send puts every message on the queue, or fails.
	Send(ctx context.Context, msgs []Message) error
}

// Message is one encoded batch.
type Message struct {
	// ID is unique within one Send call.
	ID   string
	Body []byte
}

// Planner plans scheduled fleet runs onto a queue.
type Planner struct {
	Runs   *Runs
	Sender Sender
	// Batch is the authorizers per batch (WXCLOUDENV_FLEET_BATCH).
	Batch int
	// ShardK and ShardN narrow the fleet as a payload's "shard" does.
	ShardK, ShardN int
	// Stale is how long a planning attempt may go without progress before
	// a retry of the same tick takes over (DefaultStale when zero).
	Stale time.Duration
}

// DefaultStale is how long a planning attempt may go without progress.
const DefaultStale = 30 * time.Second

// Planned is what a plan answers: the event's "planned".
type Planned struct {
	Run         string `json:"run"`
	Batches     int    `json:"batches"`
	Authorizers int    `json:"authorizers"`
	// Repeated is set when the tick was planned before (a retry): nothing
	// was sent this time. Resumed is set when this attempt took over a
	// plan that stopped midway, after the batches it had sent.
	Repeated bool `json:"repeated,omitempty"`
	Resumed  bool `json:"resumed,omitempty"`
	// Previous is the last run, when it had not finished by this tick.
	Previous *Missing `json:"previous,omitempty"`
	// Finished is set when every batch was already worked when the plan
	// was sealed: the caller then sends the run's message.
	Finished bool `json:"-"`
}

// ErrBusy is returned when another attempt is planning the same tick.
var ErrBusy = errors.New("queue: another invocation is planning this tick")

// Plan plans the run of tick: it claims the tick in the store, reads the
// fleet page by page into batches, sends them as the sender allows, keeps
// the count sent after every send, and seals the run with its totals.
// A retry of a planned tick sends nothing; a retry of one that stopped
// midway resumes after the batches already sent. It also reports the
// previous run when its batches had not all been worked by now; Planned
// carries that report (Previous) even when the plan then fails.
func (p *Planner) Plan(ctx context.Context, tick time.Time, f Fleet) (*Planned, error) {
	run := ShardRunOf(tick, p.ShardK, p.ShardN)
	out := &Planned{Run: run}
	prev, err := p.previous(ctx, run)
	if err != nil {
		return nil, err
	}
	out.Previous = prev
	owner := newOwner()
	now := p.Runs.now()
	stale := cmpOr(p.Stale, DefaultStale)
	var repeated bool
	rec, err := p.Runs.update(ctx, run, true, func(rec *Record) (bool, error) {
		repeated = false
		switch {
		case rec.Sealed:
			repeated = true
			return false, nil
		case rec.Owner != "" && now.Sub(rec.Beat) < stale:
			return false, ErrBusy
		}
		rec.Owner, rec.Beat = owner, now
		return true, nil
	})
	if err != nil {
		return out, err
	}
	if repeated {
		out.Batches, out.Authorizers, out.Repeated = rec.Batches, rec.Authorizers, true
		return out, nil
	}
	out.Resumed = rec.Sent > 0
	if err := p.Runs.Store.Set(ctx, lastKey(p.Runs.Prefix, p.ShardK, p.ShardN), store.Value{Data: []byte(run), Expires: p.Runs.now().Add(RecordTTL)}); err != nil {
		return out, fmt.Errorf("queue: record the last run: %w", err)
	}
	s := &sending{p: p, ctx: ctx, run: run, owner: owner, skip: rec.Sent}
	if err := s.page(f); err != nil {
		return out, err
	}
	if err := s.flush(); err != nil {
		return out, err
	}
	var finished bool
	rec, err = p.Runs.update(ctx, run, false, func(rec *Record) (bool, error) {
		if rec.Owner != owner {
			return false, fmt.Errorf("queue: run %s was taken over by another attempt", run)
		}
		rec.Sent, rec.Sealed, rec.Batches, rec.Authorizers, rec.Owner = s.next, true, s.next, s.authorizers, ""
		finished = rec.Complete() && !rec.Finished
		if finished {
			rec.Finished = true
		}
		return true, nil
	})
	if err != nil {
		return out, err
	}
	out.Batches, out.Authorizers, out.Finished = rec.Batches, rec.Authorizers, finished
	return out, nil
}

// previous reports the last run before run when it had not finished, once.
func (p *Planner) previous(ctx context.Context, run string) (*Missing, error) {
	v, err := p.Runs.Store.Get(ctx, lastKey(p.Runs.Prefix, p.ShardK, p.ShardN))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("queue: read the last run: %w", err)
	}
	last := string(v.Data)
	if last == run {
		return nil, nil
	}
	var m *Missing
	_, err = p.Runs.update(ctx, last, false, func(rec *Record) (bool, error) {
		m = nil
		if rec.Reported || rec.Complete() {
			return false, nil
		}
		n := rec.Sent
		if rec.Sealed {
			n = rec.Batches
		}
		m = &Missing{Run: last, Batches: n, Missing: n - rec.DoneCount(), Sealed: rec.Sealed}
		rec.Reported = true
		return true, nil
	})
	if err != nil && !errors.Is(err, store.ErrUnavailable) {
		return nil, nil // the record expired: nothing to report
	}
	return m, err
}

// sending is one planning attempt's progress.
type sending struct {
	p     *Planner
	ctx   context.Context
	run   string
	owner string
	// skip is the batches a stopped attempt already sent.
	skip int
	// next is the index of the batch being filled; authorizers counts the
	// run's authorizers.
	next, authorizers int
	fill              []string
	pending           []Message
	pendingBytes      int
}

// page reads WeChat's list first, keeping a 64-bit hash of every appid
// (8 bytes each: 8 MB for 1,000,000), then the store's members that the
// list did not have. The order is the same on a retry of the tick, so a
// resumed plan skips exactly the batches already sent.
func (s *sending) page(f Fleet) error {
	var listed []uint64
	err := f.Pages(s.ctx, func(ids []string) error {
		for _, id := range ids {
			listed = append(listed, hash(id))
			if err := s.add(id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue: read the authorizer list: %w", err)
	}
	members, err := f.Members(s.ctx)
	if err != nil {
		return fmt.Errorf("queue: read the fleet's members: %w", err)
	}
	slices.Sort(listed)
	for _, id := range members {
		if _, found := slices.BinarySearch(listed, hash(id)); !found {
			if err := s.add(id); err != nil {
				return err
			}
		}
	}
	return nil
}

func hash(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// add puts one authorizer in the batch being filled.
func (s *sending) add(id string) error {
	if s.p.ShardN > 1 && fleet.Shard(id, s.p.ShardN) != s.p.ShardK {
		return nil
	}
	s.authorizers++
	s.fill = append(s.fill, id)
	if len(s.fill) >= max(s.p.Batch, 1) {
		return s.cut()
	}
	return nil
}

// cut closes the batch being filled.
func (s *sending) cut() error {
	if len(s.fill) == 0 {
		return nil
	}
	i := s.next
	s.next++
	ids := s.fill
	s.fill = s.fill[:0]
	if i < s.skip {
		return nil // sent by the attempt this one took over from
	}
	body, err := json.Marshal(Batch{Run: s.run, Batch: i, Authorizers: ids})
	if err != nil {
		return err
	}
	most, bytes := s.p.Sender.Limits()
	if len(s.pending) > 0 && (len(s.pending) >= most || s.pendingBytes+len(body) > bytes) {
		if err := s.send(i); err != nil {
			return err
		}
	}
	s.pending = append(s.pending, Message{ID: fmt.Sprint(i), Body: body})
	s.pendingBytes += len(body)
	return nil
}

// flush cuts the last batch and sends what is pending.
func (s *sending) flush() error {
	if err := s.cut(); err != nil {
		return err
	}
	return s.send(s.next)
}

// send sends the pending messages, the batches before sent, and keeps
// that count.
func (s *sending) send(sent int) error {
	if len(s.pending) == 0 {
		return nil
	}
	if err := s.p.Sender.Send(s.ctx, s.pending); err != nil {
		return err
	}
	s.pending, s.pendingBytes = s.pending[:0], 0
	_, err := s.p.Runs.update(s.ctx, s.run, false, func(rec *Record) (bool, error) {
		if rec.Owner != s.owner {
			return false, fmt.Errorf("queue: run %s was taken over by another attempt", s.run)
		}
		rec.Sent, rec.Beat = sent, s.p.Runs.now()
		return true, nil
	})
	return err
}

func newOwner() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
