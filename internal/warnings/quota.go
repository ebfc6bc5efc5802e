package warnings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// quotaRecord is the last reading of the quotas, shared through the store.
type quotaRecord struct {
	ReadAt time.Time               `json:"read_at"`
	Quotas map[string]wechat.Quota `json:"quotas"`
}

// QuotaKey is the store key of a platform's last quota reading, and
// QuotaLeaseKey the key that lets one instance read the quotas an hour.
func QuotaKey(prefix, componentAppID string) string { return prefix + "quota:" + componentAppID }

// QuotaLeaseKey: see QuotaKey.
func QuotaLeaseKey(prefix, componentAppID string) string {
	return prefix + "lease:quota:" + componentAppID
}

// checkQuota reads the shared quota reading (through st), reads WeChat's
// quotas when the reading is an hour old and this instance wins the hour's
// lease, and raises LOW for each path under QuotaLowPercent.
func (c *Checker) checkQuota(ctx context.Context, st store.Store, r *Report) {
	key := QuotaKey(c.Prefix, c.ComponentAppID)
	now := c.now()
	rec := c.cached(now)
	if rec == nil {
		var err error
		if rec, err = readRecord(ctx, st, key); err != nil {
			r.Problems = append(r.Problems, "the quota reading could not be read: "+c.scrub(err.Error()))
			return
		}
		if rec == nil || now.Sub(rec.ReadAt) >= QuotaEvery {
			if fresh, problem := c.readQuotas(ctx, st, key, now); fresh != nil {
				rec = fresh
			} else if problem != "" {
				r.Problems = append(r.Problems, problem)
			}
		}
		c.remember(rec, now)
	}
	if rec == nil || now.Sub(rec.ReadAt) >= QuotaTrusted || len(rec.Quotas) == 0 {
		return
	}
	r.Checked = append(r.Checked, OperationQuota)
	paths := make([]string, 0, len(rec.Quotas))
	shares := make([]float64, 0, len(rec.Quotas))
	for p := range rec.Quotas {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		q := rec.Quotas[p]
		pct := q.RemainingPercent()
		shares = append(shares, pct)
		if pct < QuotaLowPercent {
			r.Alerts = append(r.Alerts, Alert{Operation: OperationQuota, Resource: ResourceQuotaPrefix + p, Status: StatusLow,
				Message: fmt.Sprintf("%.1f%% of the daily quota of %s is left (%d of %d, read %s); when it is used up WeChat answers 45009 until the quota resets at midnight Beijing time",
					pct, p, q.Remain, q.DailyLimit, rec.ReadAt.UTC().Format(time.RFC3339))})
		}
	}
	r.QuotaPercent, r.HasQuota = lowest(shares), true
}

func readRecord(ctx context.Context, st store.Store, key string) (*quotaRecord, error) {
	v, err := st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec quotaRecord
	if json.Unmarshal(v.Data, &rec) != nil {
		return nil, nil //nolint:nilerr // unreadable: read the quotas again
	}
	return &rec, nil
}

// readQuotas takes the hour's lease and reads every path's quota, and
// writes the reading through st (with the run's batch when st is the
// run's store.Buffered: the lease keeps the other instances from reading
// the quotas meanwhile, and they use the last reading until it lands). It
// returns the new reading, or nil when another instance holds the lease
// (nothing to say) or every read failed (problem says why).
func (c *Checker) readQuotas(ctx context.Context, st store.Store, key string, now time.Time) (*quotaRecord, string) {
	c.read.Lock()
	defer c.read.Unlock()
	won, err := c.takeLease(ctx, now)
	if err != nil {
		return nil, "the quota lease could not be taken: " + c.scrub(err.Error())
	}
	if !won {
		return nil, ""
	}
	rec := &quotaRecord{ReadAt: now, Quotas: map[string]wechat.Quota{}}
	var (
		problem string
		mu      sync.Mutex
		wg      sync.WaitGroup
	)
	for _, p := range c.QuotaPaths {
		wg.Go(func() {
			q, err := c.Client.GetQuota(ctx, c.Component, p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				problem = "the quota of " + p + " could not be read: " + c.scrub(err.Error())
				return
			}
			rec.Quotas[p] = *q
		})
	}
	wg.Wait()
	if len(rec.Quotas) == 0 {
		return nil, problem
	}
	data, err := json.Marshal(rec)
	if err == nil {
		// Kept a day: a reading older than QuotaTrusted is not used anyway.
		err = st.Set(ctx, key, store.Value{Data: data, Expires: now.Add(24 * time.Hour)})
	}
	if err != nil {
		problem = "the quota reading could not be kept: " + c.scrub(err.Error())
	}
	return rec, problem
}

// leaseValue is who took the hour's quota lease, and when.
type leaseValue struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// takeLease takes the hour's lease: it is free when absent (expired in the
// store) or taken QuotaEvery ago or more by this instance's clock.
func (c *Checker) takeLease(ctx context.Context, now time.Time) (bool, error) {
	key := QuotaLeaseKey(c.Prefix, c.ComponentAppID)
	data, _ := json.Marshal(leaseValue{By: c.Instance, At: now}) // cannot fail
	v := store.Value{Data: data, Expires: now.Add(QuotaEvery)}
	won, err := c.Store.CompareAndSwap(ctx, key, nil, v)
	if won || err != nil {
		return won, err
	}
	cur, err := c.Store.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return c.Store.CompareAndSwap(ctx, key, nil, v)
	}
	if err != nil {
		return false, err
	}
	var held leaseValue
	if json.Unmarshal(cur.Data, &held) == nil && now.Sub(held.At) < QuotaEvery {
		return false, nil
	}
	return c.Store.CompareAndSwap(ctx, key, cur.Data, v)
}

// cached returns the reading this instance last saw while it is younger
// than QuotaEvery: readings are made once an hour across instances, so
// the store holds nothing newer that matters before then, and a warm
// instance reads the store for quotas once an hour, not every run.
func (c *Checker) cached(now time.Time) *quotaRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec := c.seen
	if rec == nil || now.Sub(c.seenAt) < 0 || now.Sub(rec.ReadAt) >= QuotaEvery {
		return nil
	}
	return rec
}

// remember keeps a reading (none: nothing is kept, so that the next run
// looks again).
func (c *Checker) remember(rec *quotaRecord, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen, c.seenAt = rec, now
}
