// Package history keeps what the status page draws (docs/status-page.md):
// each run's time, kind, outcome and counts, and each change it claimed, in
// a [store.Store], bounded and expiring after [TTL].
//
// # Layout
//
// A run is at most two writes, both plain Sets of keys no one else writes
// (so no contention and no read before writing):
//
//   - PREFIX + "history:run:" + STAMP + ":" + ID: the run's summary, a few
//     hundred bytes.
//   - PREFIX + "history:changes:" + STAMP + ":" + ID: its changes, at most
//     [MaxChangesPerRun] of at most [MaxMessageBytes] each (under 200 KB,
//     far below DynamoDB's 400 KB item limit); written only when the run
//     claimed a change.
//
// STAMP is the run's time in UTC with nanoseconds in a fixed-width form, so
// that keys sort by time; ID distinguishes two runs of the same instant. Both
// keys expire [TTL] after the run, by the value's own expiry.
//
// # Reading
//
// [Load] lists the keys once, reads the newest [MaxRuns] summaries in batches,
// and the newest changes (optionally of one authorizer) until it has as
// many as asked for, reading change records a few at a time so that memory
// stays bounded by the answer, not by the week.
package history

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/trunc"
)

const (
	// TTL is how long a run and its changes are kept.
	TTL = 7 * 24 * time.Hour
	// MaxChangesPerRun bounds the changes kept per run; Run.Changes still
	// counts them all.
	MaxChangesPerRun = 500
	// MaxMessageBytes bounds each kept change message (cut on a rune
	// boundary).
	MaxMessageBytes = 300
	// MaxRuns bounds the runs Load reads: 7 days of a run every 2.5
	// minutes. Older ones are left out (History.RunsOmitted).
	MaxRuns = 4032
	// maxIDBytes bounds the run id in a key.
	maxIDBytes = 64
	// stampLayout sorts lexically in time order.
	stampLayout = "20060102T150405.000000000Z"
	// batch sizes of GetMany.
	runBatch    = 500
	changeBatch = 16
)

// Kind is what a run covered.
type Kind string

// The kinds of run.
const (
	// KindSingle is a run without a fleet: one authorizer's token, or none.
	KindSingle Kind = "single"
	// KindFleet is every named authorizer, or all, in one invocation.
	KindFleet Kind = "fleet"
	// KindShard is one shard K/N of the fleet.
	KindShard Kind = "shard"
	// KindBatch is one batch of a queued fleet run.
	KindBatch Kind = "batch"
)

// Kinds lists every kind, in the order the page shows them.
var Kinds = []Kind{KindSingle, KindFleet, KindShard, KindBatch}

// Run is one run's summary.
type Run struct {
	// Time is when the run started (the event's time).
	Time time.Time `json:"time"`
	Kind Kind      `json:"kind"`
	// Trigger is the event's trigger: schedule, http or direct.
	Trigger string `json:"trigger,omitempty"`
	// Part is the shard ("K/N") or batch ("i/n") the run covered.
	Part string `json:"part,omitempty"`
	// OK is the event's ok.
	OK bool `json:"ok"`
	// Operations counts the operations that ran, FailedOperations those
	// that failed as a whole.
	Operations       int `json:"operations"`
	FailedOperations int `json:"failed_operations,omitempty"`
	// Authorizers counts the fleet authorizers checked, FailedAuthorizers
	// those that failed.
	Authorizers       int `json:"authorizers,omitempty"`
	FailedAuthorizers int `json:"failed_authorizers,omitempty"`
	// Alerts counts the run's open alerts.
	Alerts int `json:"alerts"`
	// Changes counts the changes the run claimed, kept or not.
	Changes int `json:"changes,omitempty"`
	// DurationMS is how long the run took.
	DurationMS int64 `json:"duration_ms"`
	// Failure names the kinds of the failed operations, when any.
	Failure string `json:"failure,omitempty"`
	// Runs is how many runs of one instance this record stands for: this
	// one and the quiet single runs counted since its previous record
	// (see [Recorder]); 0 and 1 both mean this run alone.
	Runs int `json:"runs,omitempty"`
}

// Change is one change a run claimed (an entry of the event's "changes").
type Change struct {
	// Time is the run's time.
	Time       time.Time `json:"time"`
	Change     string    `json:"change"`
	Authorizer string    `json:"authorizer,omitempty"`
	Operation  string    `json:"operation"`
	Env        string    `json:"env,omitempty"`
	Resource   string    `json:"resource"`
	Status     string    `json:"status,omitempty"`
	Kind       string    `json:"kind,omitempty"`
	ErrCode    int       `json:"errcode,omitempty"`
	Message    string    `json:"message,omitempty"`
	// Since is when what changed was first seen.
	Since time.Time `json:"since,omitzero"`
}

// record is the encoding of a run's changes.
type record struct {
	Changes []Change `json:"c"`
}

// Keys of the history under prefix.
func runPrefix(prefix string) string    { return prefix + "history:run:" }
func changePrefix(prefix string) string { return prefix + "history:changes:" }

// Record writes run and its changes (at most MaxChangesPerRun of them, in
// the order given) under prefix: one Set, two when there are changes. id
// tells apart runs of the same instant (the request id); only its
// characters [A-Za-z0-9-_] are kept. run.Changes is set to len(changes)
// when it is smaller.
func Record(ctx context.Context, st store.Store, prefix, id string, run Run, changes []Change) error {
	run.Time = run.Time.UTC()
	if run.Runs <= 1 {
		run.Runs = 0
	}
	if run.Changes < len(changes) {
		run.Changes = len(changes)
	}
	suffix := run.Time.Format(stampLayout) + ":" + cleanID(id)
	expires := run.Time.Add(TTL)
	data, err := marshalRun(run)
	if err != nil {
		return fmt.Errorf("history: encode run: %w", err)
	}
	if err := st.Set(ctx, runPrefix(prefix)+suffix, store.Value{Data: data, Expires: expires}); err != nil {
		return fmt.Errorf("history: write run: %w", err)
	}
	if len(changes) == 0 {
		return nil
	}
	rec := record{Changes: make([]Change, 0, min(len(changes), MaxChangesPerRun))}
	for _, c := range changes[:min(len(changes), MaxChangesPerRun)] {
		c.Time = run.Time
		c.Message = cut(c.Message)
		if !c.Since.IsZero() {
			c.Since = c.Since.UTC()
		}
		rec.Changes = append(rec.Changes, c)
	}
	data, err = json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("history: encode changes: %w", err)
	}
	if err := st.Set(ctx, changePrefix(prefix)+suffix, store.Value{Data: data, Expires: expires}); err != nil {
		return fmt.Errorf("history: write changes: %w", err)
	}
	return nil
}

// Query says what Load reads.
type Query struct {
	// MaxChanges is how many changes to return at most (newest first); 0
	// reads none.
	MaxChanges int
	// Authorizer, when set, keeps only that authorizer's changes.
	Authorizer string
	// NoRuns skips the runs.
	NoRuns bool
}

// History is what Load read.
type History struct {
	// Runs are the newest runs first, at most MaxRuns.
	Runs []Run `json:"runs"`
	// RunsOmitted counts the older runs left out.
	RunsOmitted int `json:"runs_omitted,omitempty"`
	// Changes are the newest changes first, at most Query.MaxChanges.
	Changes []Change `json:"changes"`
	// MoreChanges is true when older changes were left out.
	MoreChanges bool `json:"more_changes,omitempty"`
}

// Load reads the history under prefix as q asks. Runs that cannot be
// decoded are skipped.
func Load(ctx context.Context, st store.Store, prefix string, q Query) (*History, error) {
	h := &History{Runs: []Run{}, Changes: []Change{}}
	// One listing for both kinds of key: on DynamoDB a listing is a Scan.
	all, err := st.Keys(ctx, prefix+"history:")
	if err != nil {
		return h, fmt.Errorf("history: list: %w", err)
	}
	slices.Sort(all)
	slices.Reverse(all)
	runKeys := slices.DeleteFunc(slices.Clone(all), func(k string) bool { return !strings.HasPrefix(k, runPrefix(prefix)) })
	changeKeys := slices.DeleteFunc(all, func(k string) bool { return !strings.HasPrefix(k, changePrefix(prefix)) })
	if !q.NoRuns {
		keys := runKeys
		if len(keys) > MaxRuns {
			h.RunsOmitted = len(keys) - MaxRuns
			keys = keys[:MaxRuns]
		}
		err := store.Each(ctx, st, keys, runBatch, func(_ string, v store.Value) bool {
			var r Run
			if json.Unmarshal(v.Data, &r) == nil {
				h.Runs = append(h.Runs, r)
			}
			return true
		})
		if err != nil {
			return h, fmt.Errorf("history: runs: %w", err)
		}
	}
	if q.MaxChanges <= 0 {
		return h, nil
	}
	err = store.Each(ctx, st, changeKeys, changeBatch, func(_ string, v store.Value) bool {
		var rec record
		if json.Unmarshal(v.Data, &rec) != nil {
			return true
		}
		for _, c := range rec.Changes {
			if q.Authorizer != "" && c.Authorizer != q.Authorizer {
				continue
			}
			if len(h.Changes) == q.MaxChanges {
				h.MoreChanges = true
				return false
			}
			h.Changes = append(h.Changes, c)
		}
		return true
	})
	if err != nil {
		return h, fmt.Errorf("history: change records: %w", err)
	}
	return h, nil
}

func cleanID(id string) string {
	var b strings.Builder
	for _, r := range id {
		if b.Len() >= maxIDBytes {
			break
		}
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// cut returns s as valid UTF-8, at most MaxMessageBytes long. Callers
// hand Record messages scrubbed with the runtime's scrubber.
func cut(s string) string {
	return trunc.Cut(strings.ToValidUTF8(s, "\uFFFD"), MaxMessageBytes)
}
