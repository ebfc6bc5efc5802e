package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alertstate"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// pagedFleet serves a list in pages and store members.
type pagedFleet struct {
	listed  []string
	members []string
	page    int
	pages   int // pages read
}

func (f *pagedFleet) Members(context.Context) ([]string, error) { return f.members, nil }

func (f *pagedFleet) Pages(ctx context.Context, page func([]string) error) error {
	for i := 0; i < len(f.listed); i += f.page {
		f.pages++
		if err := page(f.listed[i:min(i+f.page, len(f.listed))]); err != nil {
			return err
		}
	}
	return nil
}

// recorder is a Sender that keeps what it was sent and can fail.
type recorder struct {
	mu      sync.Mutex
	batches []Batch
	calls   int
	failAt  int // fail the call with this number (from 1); 0: never
	most    int
}

func (r *recorder) Limits() (int, int) { return r.most, 256 << 10 }

func (r *recorder) Send(_ context.Context, msgs []Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.calls == r.failAt {
		return &SendError{Code: "AWS.SimpleQueueService.NonExistentQueue", Err: errors.New("refused")}
	}
	if len(msgs) > r.most {
		return fmt.Errorf("%d messages in one call", len(msgs))
	}
	for _, m := range msgs {
		b, err := ParseBatch(m.Body)
		if err != nil {
			return err
		}
		r.batches = append(r.batches, b)
	}
	return nil
}

func appids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%05d", prefix, i)
	}
	return out
}

var tick = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func TestPlanCoversTheFleetOnce(t *testing.T) {
	tests := []struct {
		name            string
		listed, members int
		overlap         int
		batch           int
		wantBatches     int
	}{
		{"list only", 1234, 0, 0, 100, 13},
		{"members only", 0, 250, 0, 100, 3},
		{"merged", 700, 300, 200, 100, 8},
		{"batch of one", 5, 2, 1, 1, 6},
		{"empty", 0, 0, 0, 100, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			listed := appids("wxL", tt.listed)
			members := append(appids("wxM", tt.members-tt.overlap), listed[:tt.overlap]...)
			f := &pagedFleet{listed: listed, members: members, page: 500}
			rec := &recorder{most: 10}
			p := &Planner{Runs: &Runs{Store: memoryAt(tick), Prefix: "t:"}, Sender: rec, Batch: tt.batch}
			got, err := p.Plan(context.Background(), tick, f)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.listed + tt.members - tt.overlap
			if got.Authorizers != want || got.Batches != tt.wantBatches || got.Run != "20261206T120000Z" {
				t.Fatalf("planned %+v, want %d authorizers in %d batches", got, want, tt.wantBatches)
			}
			seen := map[string]int{}
			for i, b := range rec.batches {
				if b.Batch != i || b.Run != got.Run || len(b.Authorizers) > tt.batch {
					t.Fatalf("batch %d = %d of %s with %d", i, b.Batch, b.Run, len(b.Authorizers))
				}
				for _, id := range b.Authorizers {
					seen[id]++
				}
			}
			if len(seen) != want {
				t.Fatalf("%d distinct authorizers sent, want %d", len(seen), want)
			}
			for id, n := range seen {
				if n != 1 {
					t.Fatalf("%s sent %d times", id, n)
				}
			}
			if tt.wantBatches == 0 && !got.Finished {
				t.Error("an empty run is not finished at once")
			}
		})
	}
}

func TestRetriedPlanSendsNothingTwice(t *testing.T) {
	st := memoryAt(tick)
	f := &pagedFleet{listed: appids("wx", 2500), page: 500}
	rec := &recorder{most: 10, failAt: 2} // the second call fails: 10 batches sent
	p := &Planner{Runs: &Runs{Store: st, Prefix: "t:"}, Sender: rec, Batch: 100, Stale: time.Nanosecond}
	if _, err := p.Plan(context.Background(), tick, f); err == nil {
		t.Fatal("a refused send did not fail the plan")
	} else if se := (*SendError)(nil); !errors.As(err, &se) || se.Code == "" {
		t.Fatalf("error %v has no queue code", err)
	}
	if len(rec.batches) != 10 {
		t.Fatalf("%d batches sent before the failure, want 10", len(rec.batches))
	}
	// The retry (a new attempt, the old one stale) resumes after them.
	got, err := p.Plan(context.Background(), tick, f)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Resumed || got.Batches != 25 || len(rec.batches) != 25 {
		t.Fatalf("resumed %+v with %d batches sent in all, want 25", got, len(rec.batches))
	}
	for i, b := range rec.batches {
		if b.Batch != i {
			t.Fatalf("batch %d sent as %d: a batch went twice or was skipped", i, b.Batch)
		}
	}
	// A third attempt of the sealed tick sends nothing.
	again, err := p.Plan(context.Background(), tick, f)
	if err != nil || !again.Repeated || again.Batches != 25 || len(rec.batches) != 25 {
		t.Fatalf("repeat %+v, %v, %d sent", again, err, len(rec.batches))
	}
}

func TestConcurrentPlanIsBusy(t *testing.T) {
	st := memoryAt(tick)
	runs := &Runs{Store: st, Prefix: "t:"}
	// Another attempt holds the tick and made progress just now.
	if _, err := runs.update(context.Background(), RunOf(tick), true, func(r *Record) (bool, error) {
		r.Owner, r.Beat = "other", time.Now()
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{most: 10}
	p := &Planner{Runs: runs, Sender: rec, Batch: 10}
	if _, err := p.Plan(context.Background(), tick, &pagedFleet{listed: appids("wx", 30), page: 500}); !errors.Is(err, ErrBusy) {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
	if len(rec.batches) != 0 {
		t.Fatal("sent while another attempt plans")
	}
}

func TestFinishOnceAndMissingNextTick(t *testing.T) {
	ctx := context.Background()
	st := memoryAt(tick)
	runs := &Runs{Store: st, Prefix: "t:"}
	rec := &recorder{most: 10}
	p := &Planner{Runs: runs, Sender: rec, Batch: 10}
	got, err := p.Plan(ctx, tick, &pagedFleet{listed: appids("wx", 40), page: 500})
	if err != nil || got.Batches != 4 {
		t.Fatalf("%+v %v", got, err)
	}
	change := alertstate.Change{Change: alertstate.ChangeNew, Authorizer: "wx00001", Operation: "getenvinfo", Resource: "operation", Kind: "auth"}
	if err := runs.Keep(ctx, got.Run, 1, []alertstate.Change{change}, nil); err != nil {
		t.Fatal(err)
	}
	lasts := 0
	for _, i := range []int{0, 1, 1, 3} { // batch 1 redelivered; batch 2 dead-lettered
		last, err := runs.Finish(ctx, got.Run, i)
		if err != nil {
			t.Fatal(err)
		}
		if last {
			lasts++
		}
	}
	if lasts != 0 {
		t.Fatal("a run with a missing batch finished")
	}
	next, err := p.Plan(ctx, tick.Add(10*time.Minute), &pagedFleet{listed: appids("wx", 40), page: 500})
	if err != nil {
		t.Fatal(err)
	}
	if m := next.Previous; m == nil || m.Run != got.Run || m.Missing != 1 || m.Batches != 4 || !m.Sealed {
		t.Fatalf("previous = %+v, want 1 of 4 missing of %s", next.Previous, got.Run)
	}
	// Reported once: a retry of the next tick does not report it again.
	again, err := p.Plan(ctx, tick.Add(10*time.Minute), &pagedFleet{listed: appids("wx", 40), page: 500})
	if err != nil || again.Previous != nil {
		t.Fatalf("reported again: %+v %v", again, err)
	}
	// The late batch still completes the run, exactly once.
	if last, err := runs.Finish(ctx, got.Run, 2); err != nil || !last {
		t.Fatalf("last = %v, %v", last, err)
	}
	if last, err := runs.Finish(ctx, got.Run, 2); err != nil || last {
		t.Fatalf("a redelivered last batch finished again: %v, %v", last, err)
	}
	changes, _, err := runs.Collect(ctx, got.Run, 4)
	if err != nil || len(changes) != 1 || changes[0].Authorizer != "wx00001" {
		t.Fatalf("collected %+v, %v", changes, err)
	}
}

func TestParseBatch(t *testing.T) {
	tests := []struct {
		body string
		ok   bool
	}{
		{`{"run":"20261206T120000Z","batch":0,"authorizers":["wxA"]}`, true},
		{`{"run":"yesterday","batch":0,"authorizers":["wxA"]}`, false},
		{`{"run":"20261206T120000Z","batch":-1,"authorizers":["wxA"]}`, false},
		{`{"run":"20261206T120000Z","batch":0,"authorizers":[]}`, false},
		{`{"run":"20261206T120000Z","batch":0,"authorizers":["wx A"]}`, false},
		{`{"run":"20261206T120000Z","batch":0,"authorizers":["wxA"],"token":"x"}`, false},
		{`[]`, false},
		{`{"run":"20261206T120000Z-1.4","batch":0,"authorizers":["wxA"]}`, true},
		{`{"run":"20261206T120000Z-4.4","batch":0,"authorizers":["wxA"]}`, false},
		{`{"run":"20261206T120000Z-x","batch":0,"authorizers":["wxA"]}`, false},
	}
	for _, tt := range tests {
		if _, err := ParseBatch([]byte(tt.body)); (err == nil) != tt.ok {
			t.Errorf("ParseBatch(%s) = %v, want ok %v", tt.body, err, tt.ok)
		}
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		body, source string
		n            int
	}{
		{`{"Records":[{"messageId":"m1","eventSource":"aws:sqs","body":"{}"},{"messageId":"m2","eventSource":"aws:sqs","body":"{}"}]}`, SourceSQS, 2},
		{`{"run":"20261206T120000Z","batch":3,"authorizers":["wxA"]}`, SourceSCF, 1},
		{`{"Records":[{"eventSource":"aws:s3"}]}`, "", 0},
		{`{"authorizers":"all"}`, "", 0},
		{`{"Type":"Timer","TriggerName":"t","Time":"2026-12-06T12:00:00Z"}`, "", 0},
	}
	for _, tt := range tests {
		d, ok := Detect([]byte(tt.body))
		if ok != (tt.source != "") || d.Source != tt.source || len(d.Records) != tt.n {
			t.Errorf("Detect(%s) = %+v %v", tt.body, d, ok)
		}
	}
	ans := Answer(Delivery{Source: SourceSQS}, []string{"m2"})
	if string(ans) != `{"batchItemFailures":[{"itemIdentifier":"m2"}]}` {
		t.Errorf("answer %s", ans)
	}
	if string(Answer(Delivery{Source: SourceSQS}, nil)) != `{"batchItemFailures":[]}` {
		t.Error("an answer without failures must list none (not fail the whole batch)")
	}
}

func TestTick(t *testing.T) {
	for _, body := range []string{
		`{"source":"aws.events","detail-type":"Scheduled Event","time":"2026-12-06T12:00:00Z"}`,
		`{"Type":"Timer","TriggerName":"t","Time":"2026-12-06T12:00:00Z"}`,
	} {
		got, ok := Tick([]byte(body))
		if !ok || !got.Equal(tick) {
			t.Errorf("Tick(%s) = %v %v", body, got, ok)
		}
	}
	if _, ok := Tick([]byte(`{}`)); ok {
		t.Error("a tick from nothing")
	}
}

// TestShardsOfOneTick: N schedules of one tick, each a shard, are N runs
// that together cover the fleet once.
func TestShardsOfOneTick(t *testing.T) {
	st := memoryAt(tick)
	rec := &recorder{most: 10}
	f := &pagedFleet{listed: appids("wx", 1000), page: 500}
	total := 0
	runs := map[string]bool{}
	for k := range 3 {
		p := &Planner{Runs: &Runs{Store: st, Prefix: "t:"}, Sender: rec, Batch: 100, ShardK: k, ShardN: 3}
		got, err := p.Plan(context.Background(), tick, f)
		if err != nil || got.Repeated {
			t.Fatalf("shard %d: %+v %v", k, got, err)
		}
		total += got.Authorizers
		runs[got.Run] = true
	}
	seen := map[string]bool{}
	for _, b := range rec.batches {
		for _, id := range b.Authorizers {
			if seen[id] {
				t.Fatalf("%s in two shards", id)
			}
			seen[id] = true
		}
	}
	if total != 1000 || len(seen) != 1000 || len(runs) != 3 || !runs["20261206T120000Z-1.3"] {
		t.Fatalf("%d authorizers in runs %v", total, runs)
	}
}

// memoryAt is a memory store whose clock stands at at, so that what the
// tests keep with a lifetime is judged by the tests' own date, not the
// machine's.
func memoryAt(at time.Time) *store.Memory {
	st := store.NewMemory()
	st.Now = func() time.Time { return at }
	return st
}
