// Package warnings raises the platform alerts that come before tokens
// break (docs/when-tokens-break.md, docs/contract.md#warnings-before-tokens-break): a verify ticket
// that stopped arriving, and a component API whose daily quota is nearly
// used up. A Checker runs beside each invocation's checks; its alerts are
// ordinary alerts with no authorizer, kept and resolved by the alert state
// like every other, and its readings become EMF metrics.
package warnings

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// The operations (alert scopes) of the platform alerts, their resources
// and statuses.
const (
	OperationComponent = "component"
	OperationQuota     = "quota"

	ResourceVerifyTicket = "verify_ticket"
	ResourceQuotaPrefix  = "quota:"

	StatusStale = "STALE"
	StatusLow   = "LOW"
)

// Thresholds.
const (
	// TicketStaleAfter is how old the newest verify ticket may be before
	// it is a warning: WeChat pushes one every 10 minutes.
	TicketStaleAfter = 30 * time.Minute
	// TicketLife is how long after its CreateTime a ticket mints.
	TicketLife = 12 * time.Hour
	// QuotaEvery is how often, across every instance, the quotas are read.
	QuotaEvery = time.Hour
	// QuotaTrusted is how old a quota reading may be and still raise or
	// resolve alerts; an older one (reads failing) leaves them as they are.
	QuotaTrusted = 2 * time.Hour
	// QuotaLowPercent is the remaining share under which a quota warns.
	QuotaLowPercent = 10.0
)

// Alert is a platform alert: no authorizer, no environment.
type Alert struct {
	Operation string
	Resource  string
	Status    string
	Message   string
}

// Report is what one check found.
type Report struct {
	// Alerts are the platform alerts now open.
	Alerts []Alert
	// Checked are the operations (scopes) whose alerts this check saw
	// whole: open alerts of an operation not listed are left as they are.
	Checked []string
	// TicketAge is how old the newest verify ticket is, when known.
	TicketAge    time.Duration
	HasTicketAge bool
	// QuotaPercent is the lowest remaining share of the quotas read, when
	// a trusted reading exists.
	QuotaPercent float64
	HasQuota     bool
	// Problems are what could not be checked, for the log (no secrets).
	Problems []string
}

// TicketSource reads when the newest kept verify ticket was created.
type TicketSource interface {
	// TicketCreated may answer from what it read before while the ticket
	// it saw is younger than fresh (a ticket only gets newer).
	TicketCreated(ctx context.Context, componentAppID string, fresh time.Duration) (time.Time, bool, error)
}

// Checker checks one platform. Set the fields before the first Check; it
// is safe for concurrent use.
type Checker struct {
	// ComponentAppID names the platform.
	ComponentAppID string
	// Tickets, when set, is where the verify ticket is kept: set it only
	// where pushes are received or a ticket is kept in a shared store.
	Tickets TicketSource
	// Store and Prefix keep the quota readings shared by every instance.
	Store  store.Store
	Prefix string
	// Client and Component read the quotas of QuotaPaths; with no
	// Component or no paths, quotas are not read.
	Client     *wechat.Client
	Component  wechat.TokenSource
	QuotaPaths []string
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Instance names this instance in the quota lease.
	Instance string

	mu     sync.Mutex   // guards seen
	seen   *quotaRecord // the last quota reading this instance saw
	seenAt time.Time
	read   sync.Mutex // one quota reader per instance
}

// scrub removes from s the secrets the client keeps (the runtime's
// scrubber).
func (c *Checker) scrub(s string) string {
	if c.Client == nil {
		return s
	}
	return c.Client.Scrubber().Scrub(s)
}

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Check runs every check that applies. It never fails: what could not be
// checked is in Problems, and its operation is not in Checked.
func (c *Checker) Check(ctx context.Context) Report {
	if c == nil {
		return Report{}
	}
	return c.CheckWith(ctx, c.Store)
}

// CheckWith is Check through st, the run's view of Store: the quota
// reading may be answered by its read-ahead, and a new reading written
// with its batch (store.Buffered); the lease is taken in Store itself.
func (c *Checker) CheckWith(ctx context.Context, st store.Store) Report {
	var r Report
	if c == nil {
		return r
	}
	if c.Tickets != nil && c.ComponentAppID != "" {
		c.checkTicket(ctx, &r)
	}
	if c.quotas() && st != nil {
		c.checkQuota(ctx, st, &r)
	}
	return r
}

// quotas reports whether the checker reads quotas.
func (c *Checker) quotas() bool {
	return c.Component != nil && c.Client != nil && c.Store != nil && len(c.QuotaPaths) > 0
}

// Reads returns the store keys the next Check reads (the shared quota
// reading, when this instance holds none younger than QuotaEvery), for a
// run to read ahead in a batch it makes anyway.
func (c *Checker) Reads() []string {
	if c == nil || !c.quotas() || c.cached(c.now()) != nil {
		return nil
	}
	return []string{QuotaKey(c.Prefix, c.ComponentAppID)}
}

// checkTicket raises STALE when the newest verify ticket is more than
// TicketStaleAfter old.
//
// While the newest ticket seen is younger than TicketStaleAfter nothing
// can be stale, so the source need not read the store again: a scheduled
// instance reads it about every 30 minutes, not every run, and always
// before raising STALE.
func (c *Checker) checkTicket(ctx context.Context, r *Report) {
	created, ok, err := c.Tickets.TicketCreated(ctx, c.ComponentAppID, TicketStaleAfter)
	if err != nil {
		r.Problems = append(r.Problems, "the verify ticket's age could not be read: "+c.scrub(err.Error()))
		return
	}
	now := c.now()
	r.Checked = append(r.Checked, OperationComponent)
	if !ok {
		return // none pushed yet: nothing is aging
	}
	age := now.Sub(created)
	r.TicketAge, r.HasTicketAge = max(age, 0), true
	if age <= TicketStaleAfter {
		return
	}
	r.Alerts = append(r.Alerts, Alert{Operation: OperationComponent, Resource: ResourceVerifyTicket, Status: StatusStale,
		Message: TicketMessage(age, created)})
}

// TicketMessage says how long since the last verify ticket and how long
// the component token can still be minted.
func TicketMessage(age time.Duration, created time.Time) string {
	until := created.Add(TicketLife).UTC().Format(time.RFC3339)
	left := TicketLife - age
	head := fmt.Sprintf("no verify ticket pushed for %s (WeChat pushes every 10 minutes)", Duration(age))
	if left > 0 {
		return head + fmt.Sprintf("; the component token can still be minted for %s, until %s; check the platform's authorization event URL", Duration(left), until)
	}
	return head + fmt.Sprintf("; the component token can no longer be minted since %s (61005); check the platform's authorization event URL, then run start_push_ticket", until)
}

// Duration writes d rounded to the minute as "11h29m" (or "45m").
func Duration(d time.Duration) string {
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	if h == 0 {
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%dh%02dm", h, m)
}

// lowest returns the smallest of the remaining shares.
func lowest(p []float64) float64 {
	out := math.Inf(1)
	for _, v := range p {
		out = math.Min(out, v)
	}
	return out
}
