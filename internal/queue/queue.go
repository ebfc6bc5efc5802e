// Package queue runs a fleet beyond one invocation (docs/queue.md,
// docs/contract.md#the-queued-fleet): a scheduled run plans the fleet into
// batches on the cloud's own queue (SQS, or SCF's asynchronous invocation),
// and the same function works them, so that the cloud's engine does the
// distributing.
//
// The run is kept in the store under PREFIX + "queue:run:" + RUN: who is
// planning it, how many batches were sent, and one bit per batch that a
// worker finished. Setting a bit is a compare-and-swap, so a redelivered
// batch changes nothing twice, and exactly one worker sees the last bit
// set: it sends the run's one message per robot, built from what every
// batch kept in its outbox (PREFIX + "queue:changes:" + RUN + ":" + I).
package queue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/appid"
)

// MaxBatch is the most authorizers one batch holds (WXCLOUDENV_FLEET_BATCH).
const MaxBatch = 1000

// RecordTTL is how long a run's record and outboxes are kept.
const RecordTTL = 7 * 24 * time.Hour

// Batch is one message of a queued fleet run: authorizers to check as a
// fleet run checks them.
type Batch struct {
	// Run identifies the run: its tick, as 20060102T150405Z.
	Run string `json:"run"`
	// Batch is the batch's index in the run, from 0.
	Batch int `json:"batch"`
	// Authorizers are the appids to check.
	Authorizers []string `json:"authorizers"`
}

// ErrNotBatch is returned by ParseBatch for JSON that is not a batch.
var ErrNotBatch = errors.New("queue: not a fleet batch")

// ParseBatch decodes a batch and checks its fields.
func ParseBatch(raw []byte) (Batch, error) {
	var b Batch
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return Batch{}, fmt.Errorf("%w: %v", ErrNotBatch, err)
	}
	if _, err := ParseRun(b.Run); err != nil {
		return Batch{}, err
	}
	if b.Batch < 0 || b.Batch >= maxBatches || len(b.Authorizers) == 0 || len(b.Authorizers) > MaxBatch {
		return Batch{}, fmt.Errorf("%w: batch %d with %d authorizers", ErrNotBatch, b.Batch, len(b.Authorizers))
	}
	for _, id := range b.Authorizers {
		if !validAppID(id) {
			return Batch{}, fmt.Errorf("%w: an authorizer is not an appid", ErrNotBatch)
		}
	}
	return b, nil
}

// maxBatches bounds a run's batches: 1,000,000 authorizers in batches of 1.
const maxBatches = 1 << 20

// RunFormat is the layout of a run's id: its tick in UTC.
const RunFormat = "20060102T150405Z"

// RunOf returns the id of the run of tick.
func RunOf(tick time.Time) string { return tick.UTC().Format(RunFormat) }

// ShardRunOf returns the id of the run of tick over shard k of n: the
// tick, and "-K.N" when the fleet is sharded, so that N schedules of one
// tick are N runs.
func ShardRunOf(tick time.Time, k, n int) string {
	if n <= 1 {
		return RunOf(tick)
	}
	return fmt.Sprintf("%s-%d.%d", RunOf(tick), k, n)
}

// ParseRun returns the tick of a run id.
func ParseRun(run string) (time.Time, error) {
	tick, shard, sharded := strings.Cut(run, "-")
	if sharded {
		var k, n int
		if _, err := fmt.Sscanf(shard, "%d.%d", &k, &n); err != nil || k < 0 || k >= n || fmt.Sprintf("%d.%d", k, n) != shard {
			return time.Time{}, fmt.Errorf("%w: the run's shard is not K.N", ErrNotBatch)
		}
	}
	t, err := time.Parse(RunFormat, tick)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: the run is not a tick", ErrNotBatch)
	}
	return t, nil
}

func validAppID(s string) bool { return appid.Valid(s) }

// Record is a run as the store keeps it.
type Record struct {
	Run string `json:"run"`
	// Owner is the planning attempt that holds the run; Beat is when it
	// last made progress.
	Owner string    `json:"owner,omitempty"`
	Beat  time.Time `json:"beat"`
	// Sent is how many batches were sent, in order.
	Sent int `json:"sent"`
	// Sealed is set when every batch was sent; Batches and Authorizers are
	// then the run's totals.
	Sealed      bool `json:"sealed,omitempty"`
	Batches     int  `json:"batches,omitempty"`
	Authorizers int  `json:"authorizers,omitempty"`
	// Done has bit i set when batch i was worked.
	Done []byte `json:"done,omitempty"`
	// Finished is set by whoever completed the run (and sends its message).
	Finished bool `json:"finished,omitempty"`
	// Reported is set when a later tick reported the run's missing batches.
	Reported bool `json:"reported,omitempty"`
}

// done reports whether batch i is done.
func (r *Record) done(i int) bool { return i/8 < len(r.Done) && r.Done[i/8]&(1<<(i%8)) != 0 }

// setDone sets batch i's bit.
func (r *Record) setDone(i int) {
	for len(r.Done) <= i/8 {
		r.Done = append(r.Done, 0)
	}
	r.Done[i/8] |= 1 << (i % 8)
}

// DoneCount is how many batches are done.
func (r *Record) DoneCount() int {
	n := 0
	for _, b := range r.Done {
		n += bits.OnesCount8(b)
	}
	return n
}

// Complete reports whether every batch of a sealed run is done.
func (r *Record) Complete() bool { return r.Sealed && r.DoneCount() >= r.Batches }

// Missing is a run that had not finished by the next tick.
type Missing struct {
	Run string `json:"run"`
	// Missing batches of Batches; when the plan itself did not finish,
	// Sealed is false and Batches counts the batches it sent.
	Missing int  `json:"missing"`
	Batches int  `json:"batches"`
	Sealed  bool `json:"sealed"`
}

// Message says what is missing, for the robots and the event.
func (m Missing) Message() string {
	if !m.Sealed {
		return fmt.Sprintf("queued fleet run %s did not finish planning: %d of the %d batches it sent were not worked before the next tick", m.Run, m.Missing, m.Batches)
	}
	return fmt.Sprintf("queued fleet run %s: %d of %d batches were not worked before the next tick (dead-lettered or still failing)", m.Run, m.Missing, m.Batches)
}

// keys of the store.
func runKey(prefix, run string) string { return prefix + "queue:run:" + run }
func lastKey(prefix string, k, n int) string {
	if n <= 1 {
		return prefix + "queue:last"
	}
	return fmt.Sprintf("%squeue:last:%d.%d", prefix, k, n)
}
func changesKey(prefix, run string, i int) string {
	return fmt.Sprintf("%squeue:changes:%s:%d", prefix, run, i)
}

// IsRunKey reports whether key is a run record (for tests and tools).
func IsRunKey(prefix, key string) bool { return strings.HasPrefix(key, prefix+"queue:run:") }
