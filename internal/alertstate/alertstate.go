// Package alertstate keeps the last-seen state of every alert and of every
// operation's (and fleet authorizer's) failure in a [store.Store], so that a
// run can tell what changed since the previous one
// (docs/contract.md#changes-and-notifications):
// each open alert's "since", the "changes" (new and resolved), and the
// reminders due under WXCLOUDENV_NOTIFY_REPEAT.
//
// # Layout
//
// The state is sharded: one key per (operation, authorizer) pair that has
// something open, PREFIX + "alerts:" + operation + ":" + authorizer ("-" for
// no authorizer). A shard holds that pair's open alerts and its open failure
// as JSON, at most [MaxEntries] entries of bounded size, so a shard stays far
// below DynamoDB's 400 KB item limit however large the fleet. A pair with
// nothing open has no key. Every shard expires [TTL] after it was last
// written and is rewritten before that while still open, so the state of
// abandoned authorizers goes away by itself.
//
// # Concurrency
//
// Every shard is written with CompareAndSwap against the bytes that were
// read. When two instances run the same tick, both compute the same change
// but only one write succeeds; the loser re-reads the shard, recomputes, and
// finds nothing changed. A change (or reminder) is therefore claimed by
// exactly one caller, which is the one that notifies.
//
// # Degrading when the store fails
//
// [Update] returns an error wrapping [store.ErrUnavailable] when the store
// cannot be read or written, or when its context ends before every shard
// is written. Its [Outcome] is still usable: it holds the
// changes and reminders of the shards that were committed before the failure
// (send those: they are claimed and no one else will), and a zero Since for
// every alert or failure whose shard was not committed. The caller should
// still report every alert (without "since" where it is zero), report
// "changes" as the committed ones (an empty array when nothing was
// committed), and log the error with kind store; it must not invent changes
// from the current run alone, or every instance would notify every outage on
// every tick.
package alertstate

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/order"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/trunc"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

const (
	// TTL is how long a shard lives after its last write. An open shard is
	// rewritten once less than half of it remains.
	TTL = 30 * 24 * time.Hour
	// MaxEntries bounds the alerts kept per (operation, authorizer) shard;
	// alerts beyond it are still reported by the caller, with no since and
	// no change.
	MaxEntries = 500
	// MaxMessageBytes bounds each kept message (cut on a rune boundary).
	MaxMessageBytes = 300
	// maxAttempts bounds the re-reads after lost CompareAndSwaps.
	maxAttempts = 8
	// readChunk is how many shards are read in one round trip.
	readChunk = 256
)

// Change values.
const (
	ChangeNew      = "new"
	ChangeResolved = "resolved"
	ChangeReminder = "reminder"
)

// ResourceOperation is the resource of a change about an operation's (or a
// fleet authorizer's) failure.
const ResourceOperation = "operation"

// Alert is a resource whose status needs attention: one entry of the
// event's "alerts" (docs/contract.md#the-output-event). Its identity is
// (Authorizer, Operation, Env, Resource); Status and Message may change
// while it stays the same alert. It is the one definition of an alert:
// package alerts and the event use it as is.
type Alert struct {
	Authorizer string `json:"authorizer,omitempty"`
	// Name is the authorizer's name (nick_name) when known; not part of
	// the state.
	Name      string `json:"name,omitempty"`
	Operation string `json:"operation"`
	Env       string `json:"env"`
	Resource  string `json:"resource"`
	Status    string `json:"status"`
	Message   string `json:"message"`
	// Since is when the alert was first seen, when alert state is kept
	// (zero otherwise); written as RFC 3339 in seconds. Update reads only
	// the other fields and reports Since in its Outcome.
	Since time.Time `json:"-"`
}

// MarshalJSON writes since as RFC 3339 in seconds, left out when zero.
func (a Alert) MarshalJSON() ([]byte, error) {
	type plain Alert
	return json.Marshal(struct {
		plain
		Since string `json:"since,omitempty"`
	}{plain(a), formatSince(a.Since)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (a *Alert) UnmarshalJSON(data []byte) error {
	type plain Alert
	var w struct {
		plain
		Since string `json:"since"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*a = Alert(w.plain)
	return parseSince(w.Since, &a.Since)
}

func formatSince(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func parseSince(s string, t *time.Time) error {
	if s == "" {
		*t = time.Time{}
		return nil
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("since: %w", err)
	}
	*t = v
	return nil
}

// Failure is one failed operation, or one failed authorizer of a fleet run.
// Its identity is (Authorizer, Operation). ErrCode 0 means WeChat sent none.
type Failure struct {
	Authorizer string
	Operation  string
	Kind       string
	ErrCode    int
	Message    string
}

// Scope is one (operation, authorizer) pair that a run checked. Only the
// state of checked pairs can be resolved: an authorizer that a run did not
// reach (another shard of the fleet, or one whose list could not be read)
// keeps its open alerts. A pair that failed this run keeps its open alerts
// too, since they could not be seen.
type Scope struct {
	Operation  string
	Authorizer string
}

// Run is what one run saw.
type Run struct {
	// Checked lists the pairs that ran to an answer (success or failure).
	// The pairs of Alerts and Failures are added to it implicitly.
	Checked []Scope
	// Alerts are the current alerts.
	Alerts []Alert
	// Failures are the current failures.
	Failures []Failure
	// Scrubber removes the secrets the process keeps from every message
	// before it is stored or reported (nil: none).
	Scrubber *wechat.Scrubber
}

// Change is one entry of the event's "changes" array, or a reminder: a
// transition since the previous run, an alert's fields or a failing
// operation's (Resource "operation", with Kind and ErrCode). It is the one
// definition of a change: package alerts, the robots' messages and the
// event use it as is.
type Change struct {
	// Change is "new", "resolved" or "reminder".
	Change     string `json:"change"`
	Authorizer string `json:"authorizer,omitempty"`
	// Name is the authorizer's name (nick_name) when known; not part of
	// the state.
	Name      string `json:"name,omitempty"`
	Operation string `json:"operation"`
	Env       string `json:"env,omitempty"`
	Resource  string `json:"resource"`
	Status    string `json:"status,omitempty"`
	Kind      string `json:"kind,omitempty"`
	ErrCode   int    `json:"errcode,omitempty"`
	Message   string `json:"message,omitempty"`
	// Silenced is the id of the silence that kept it from the robots
	// (docs/silences-and-robots.md#silences); not part of the state.
	Silenced string `json:"silenced,omitempty"`
	// Since is when the alert or failure was first seen; written as
	// RFC 3339 in seconds, left out when zero.
	Since time.Time `json:"-"`
}

// MarshalJSON writes since as RFC 3339 in seconds, left out when zero.
func (c Change) MarshalJSON() ([]byte, error) {
	type plain Change
	return json.Marshal(struct {
		plain
		Since string `json:"since,omitempty"`
	}{plain(c), formatSince(c.Since)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *Change) UnmarshalJSON(data []byte) error {
	type plain Change
	var w struct {
		plain
		Since string `json:"since"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*c = Change(w.plain)
	return parseSince(w.Since, &c.Since)
}

// Outcome is what Update found.
type Outcome struct {
	// AlertSince[i] is when Run.Alerts[i] was first seen; zero when its
	// shard could not be committed.
	AlertSince []time.Time
	// FailureSince[i] is when Run.Failures[i] started; zero when unknown.
	FailureSince []time.Time
	// Changes are the transitions this caller claimed, new before resolved,
	// each sorted by authorizer, operation, env and resource.
	Changes []Change
	// Reminders are the open alerts and failures whose last message is
	// older than the repeat interval, claimed by this caller.
	Reminders []Change
}

// entry is one open alert (Resource != "operation") or failure in a shard.
type entry struct {
	Env      string    `json:"e,omitempty"`
	Resource string    `json:"r"`
	Status   string    `json:"s,omitempty"`
	Kind     string    `json:"k,omitempty"`
	ErrCode  int       `json:"c,omitempty"`
	Message  string    `json:"m,omitempty"`
	Since    time.Time `json:"t"`
	Notified time.Time `json:"n"`
}

type shardState struct {
	Entries []entry `json:"a"`
}

// shard is the work on one (operation, authorizer) pair.
type shard struct {
	// checked is the pair's position in Run.Checked, for a shard without
	// marks: most of a fleet's have none, and a shard is 16 bytes, not
	// the 80 a copy of its pair and two lists made.
	checked int
	marks   *marks
}

// marks are a shard's pair and its alerts and failures, as indexes into
// Run.Alerts and Run.Failures.
type marks struct {
	scope            Scope
	alerts, failures []int
}

// scopeIn returns s's pair, run being the run grouped.
func (s *shard) scopeIn(run Run) Scope {
	if s.marks != nil {
		return s.marks.scope
	}
	return run.Checked[s.checked]
}

// alertsOf returns s's alerts' indexes.
func (s *shard) alertsOf() []int {
	if s.marks == nil {
		return nil
	}
	return s.marks.alerts
}

// failuresOf returns s's failures' indexes.
func (s *shard) failuresOf() []int {
	if s.marks == nil {
		return nil
	}
	return s.marks.failures
}

// Key returns the store key of the (operation, authorizer) shard.
func Key(prefix string, s Scope) string {
	a := s.Authorizer
	if a == "" {
		a = "-"
	}
	return OperationKeys(prefix, s.Operation) + a
}

// OperationKeys is how the keys of operation's shards start: the key of
// (operation, authorizer) is OperationKeys + authorizer.
func OperationKeys(prefix, operation string) string { return prefix + "alerts:" + operation + ":" }

// Update loads the previous state of the checked pairs from st (keys under
// prefix), compares it with run at now, claims the changes and the reminders
// due (repeat 0: never), and writes the new state. See the package doc for
// what to do when it returns an error.
func Update(ctx context.Context, st store.Store, prefix string, now time.Time, run Run, repeat time.Duration) (*Outcome, error) {
	now = now.UTC().Truncate(time.Millisecond)
	out := &Outcome{
		AlertSince:   make([]time.Time, len(run.Alerts)),
		FailureSince: make([]time.Time, len(run.Failures)),
	}
	shards := group(run)
	pending := shards
	for attempt := 0; attempt < maxAttempts && len(pending) > 0; attempt++ {
		var lost []*shard
		// Read and write in chunks, so that a run cut short by its
		// deadline still claims what it got to.
		for start := 0; start < len(pending); start += readChunk {
			chunk := pending[start:min(start+readChunk, len(pending))]
			keys := make([]string, len(chunk))
			for i, s := range chunk {
				keys[i] = Key(prefix, s.scopeIn(run)) // per chunk: a fleet has a shard per authorizer
			}
			vals, err := st.GetMany(ctx, keys)
			if err != nil {
				return finish(out), fmt.Errorf("alertstate: read %d shards: %w", len(keys), err)
			}
			for i, s := range chunk {
				if err := ctx.Err(); err != nil {
					// Out of time: what is not written is not claimed, so
					// a later run finds it again. Stores that ignore
					// contexts (memory, file) stop here too.
					return finish(out), fmt.Errorf("alertstate: %d of %d shards not written before the deadline: %w (%w)",
						len(pending)-start-i, len(shards), store.ErrUnavailable, err)
				}
				won, err := commit(ctx, st, s, keys[i], vals[keys[i]], now, run, repeat, out)
				if err != nil {
					// The store is failing: stop writing, keep what was
					// committed.
					return finish(out), err
				}
				if !won {
					lost = append(lost, s)
				}
			}
		}
		pending = lost
	}
	if len(pending) > 0 {
		return finish(out), fmt.Errorf("alertstate: %d shards still contended after %d attempts: %w", len(pending), maxAttempts, store.ErrUnavailable)
	}
	return finish(out), nil
}

// finish sorts the claimed changes.
func finish(out *Outcome) *Outcome {
	byChange := func(a, b Change) int {
		if a.Change != b.Change {
			return cmp.Compare(rank(a.Change), rank(b.Change))
		}
		return cmp.Or(
			cmp.Compare(a.Authorizer, b.Authorizer),
			cmp.Compare(a.Operation, b.Operation),
			cmp.Compare(a.Env, b.Env),
			cmp.Compare(a.Resource, b.Resource),
		)
	}
	order.SortFunc(out.Changes, byChange)
	order.SortFunc(out.Reminders, byChange)
	if out.Changes == nil {
		out.Changes = []Change{}
	}
	return out
}

func rank(change string) int {
	if change == ChangeNew {
		return 0
	}
	return 1
}

// group splits run into shards, one per checked pair, in a stable order:
// the checked pairs in their order, then the others with alerts or
// failures in the order they first appear. A fleet checks a pair per
// authorizer and few have alerts or failures, so only those are looked up
// by pair, and the others' shards are one slice. Run.Checked holds each
// pair once (a pair repeated would be tracked twice, which the compare-
// and-swap of each write makes harmless).
func group(run Run) []*shard {
	marked := map[Scope]*shard{}
	var order []*shard
	mark := func(s Scope) *shard {
		if sh, ok := marked[s]; ok {
			return sh
		}
		sh := &shard{marks: &marks{scope: s}}
		marked[s] = sh
		order = append(order, sh)
		return sh
	}
	for i, a := range run.Alerts {
		sh := mark(Scope{Operation: a.Operation, Authorizer: a.Authorizer})
		sh.marks.alerts = append(sh.marks.alerts, i)
	}
	for i, f := range run.Failures {
		sh := mark(Scope{Operation: f.Operation, Authorizer: f.Authorizer})
		sh.marks.failures = append(sh.marks.failures, i)
	}
	plain := make([]shard, 0, len(run.Checked))
	list := make([]*shard, 0, len(run.Checked)+len(order))
	placed := make(map[*shard]bool, len(order))
	for i, s := range run.Checked {
		if sh, ok := marked[s]; ok {
			if !placed[sh] {
				placed[sh] = true
				list = append(list, sh)
			}
			continue
		}
		plain = append(plain, shard{checked: i})
		list = append(list, &plain[len(plain)-1])
	}
	for _, sh := range order {
		if !placed[sh] {
			list = append(list, sh)
		}
	}
	return list
}

func alertID(env, resource string) string { return env + "\x00" + resource }

// commit computes one shard's new state from its stored value and writes it
// if anything changed. It reports false when another writer got there
// first; the shard's results are then not added to out.
func commit(ctx context.Context, st store.Store, s *shard, key string, old store.Value, now time.Time, run Run, repeat time.Duration, out *Outcome) (bool, error) {
	var prev shardState
	if old.Data != nil {
		if err := json.Unmarshal(old.Data, &prev); err != nil {
			// A corrupt shard is replaced as if absent: losing a since is
			// better than never tracking the pair again.
			prev = shardState{}
		}
	}
	prevByID := make(map[string]entry, len(prev.Entries))
	for _, e := range prev.Entries {
		prevByID[alertID(e.Env, e.Resource)] = e
	}

	var next shardState
	var changes, reminders []Change
	seen := map[string]bool{}
	since := map[int]time.Time{}
	fsince := map[int]time.Time{}
	dirty := false

	keep := func(e entry, p entry, existed bool) entry {
		if !existed {
			e.Since, e.Notified = now, now
			dirty = true
			return e
		}
		e.Since, e.Notified = p.Since, p.Notified
		if e.Status != p.Status || e.Kind != p.Kind || e.ErrCode != p.ErrCode {
			dirty = true
		} else {
			// Messages carry WeChat's per-request rid: a new message alone
			// is not worth a write.
			e.Message = p.Message
		}
		if repeat > 0 && now.Sub(p.Notified) >= repeat {
			e.Notified = now
			dirty = true
			reminders = append(reminders, toChange(s.scopeIn(run), e, ChangeReminder))
		}
		return e
	}

	for _, i := range s.failuresOf() {
		f := run.Failures[i]
		id := alertID("", ResourceOperation)
		if seen[id] {
			fsince[i] = next.Entries[slices.IndexFunc(next.Entries, func(e entry) bool { return e.Resource == ResourceOperation })].Since
			continue
		}
		seen[id] = true
		e := entry{Resource: ResourceOperation, Kind: f.Kind, ErrCode: f.ErrCode, Message: cut(run.Scrubber, f.Message)}
		p, existed := prevByID[id]
		e = keep(e, p, existed)
		if !existed {
			changes = append(changes, toChange(s.scopeIn(run), e, ChangeNew))
		}
		fsince[i] = e.Since
		next.Entries = append(next.Entries, e)
	}
	// Alerts already known come first, so that a shard over MaxEntries
	// never drops (and falsely resolves) an alert it was tracking.
	order := make([]int, 0, len(s.alertsOf()))
	for pass := range 2 {
		for _, i := range s.alertsOf() {
			_, known := prevByID[alertID(run.Alerts[i].Env, run.Alerts[i].Resource)]
			if known == (pass == 0) {
				order = append(order, i)
			}
		}
	}
	tracked := 0
	for _, i := range order {
		a := run.Alerts[i]
		id := alertID(a.Env, a.Resource)
		if seen[id] {
			for _, e := range next.Entries {
				if alertID(e.Env, e.Resource) == id {
					since[i] = e.Since
				}
			}
			continue
		}
		if tracked >= MaxEntries {
			continue
		}
		seen[id] = true
		tracked++
		e := entry{Env: a.Env, Resource: a.Resource, Status: a.Status, Message: cut(run.Scrubber, a.Message)}
		p, existed := prevByID[id]
		e = keep(e, p, existed)
		if !existed {
			changes = append(changes, toChange(s.scopeIn(run), e, ChangeNew))
		}
		since[i] = e.Since
		next.Entries = append(next.Entries, e)
	}
	failing := len(s.failuresOf()) > 0
	for _, p := range prev.Entries {
		switch {
		case seen[alertID(p.Env, p.Resource)]:
		case failing && p.Resource != ResourceOperation && len(next.Entries) < MaxEntries:
			// The pair failed: its alerts could not be seen, which does
			// not mean they are over. They stay open, unchanged.
			next.Entries = append(next.Entries, p)
		default:
			dirty = true
			changes = append(changes, toChange(s.scopeIn(run), p, ChangeResolved))
		}
	}

	refresh := old.Data != nil && !old.Expires.IsZero() && old.Expires.Sub(now) < TTL/2
	switch {
	case len(next.Entries) == 0 && old.Data == nil:
		// Nothing was open and nothing is: no key to write.
	case len(next.Entries) == 0:
		ok, err := st.CompareAndDelete(ctx, key, old.Data)
		if err != nil {
			return false, fmt.Errorf("alertstate: delete shard %s: %w", key, err)
		}
		if !ok {
			return false, nil
		}
	case dirty || refresh:
		data, err := json.Marshal(next)
		if err != nil {
			return false, fmt.Errorf("alertstate: encode shard %s: %w", key, err)
		}
		if bytes.Equal(data, old.Data) && !refresh {
			break
		}
		ok, err := st.CompareAndSwap(ctx, key, old.Data, store.Value{Data: data, Expires: now.Add(TTL)})
		if err != nil {
			return false, fmt.Errorf("alertstate: write shard %s: %w", key, err)
		}
		if !ok {
			return false, nil
		}
	}
	for i, t := range since {
		out.AlertSince[i] = t
	}
	for i, t := range fsince {
		out.FailureSince[i] = t
	}
	out.Changes = append(out.Changes, changes...)
	out.Reminders = append(out.Reminders, reminders...)
	return true, nil
}

func toChange(s Scope, e entry, change string) Change {
	return Change{
		Authorizer: s.Authorizer,
		Operation:  s.Operation,
		Env:        e.Env,
		Resource:   e.Resource,
		Status:     e.Status,
		Kind:       e.Kind,
		ErrCode:    e.ErrCode,
		Message:    e.Message,
		Since:      e.Since,
		Change:     change,
	}
}

// cut returns s with every secret sc keeps removed, invalid UTF-8
// replaced, cut to at most MaxMessageBytes on a rune boundary.
func cut(sc *wechat.Scrubber, s string) string {
	return trunc.Cut(strings.ToValidUTF8(sc.Scrub(s), "\uFFFD"), MaxMessageBytes)
}
