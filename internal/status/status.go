// Package status builds the status page (docs/status-page.md,
// docs/contract.md#the-status-page-routes) from the
// store alone (never calling WeChat): the last run of each kind, counts,
// open incidents, open alerts and failures, token health, silences, and
// the last 7 days as a picture and a list of changes. [Load] and
// [LoadAuthorizer] read the data; [Data.HTML], [AuthorizerData.HTML] and
// encoding/json write it.
//
// The HTML is written by a small renderer of this package instead of
// html/template: executing a text/template disables the linker's dead-code
// elimination of methods and doubles the Lambda binary (docs/status-page.md).
// Every dynamic text goes through one escaping function and lands in only
// two contexts, element text and double-quoted attribute values; the only
// dynamic URL is a relative link whose one segment is a validated appid.
package status

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alertstate"
	"github.com/wxcloudenv/wxcloudenv/internal/history"
	"github.com/wxcloudenv/wxcloudenv/internal/order"
	"github.com/wxcloudenv/wxcloudenv/internal/robots"
	"github.com/wxcloudenv/wxcloudenv/internal/silence"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/tokens"
)

const (
	// MaxListed bounds the open alerts and the failures listed (the counts
	// stay exact).
	MaxListed = 500
	// MaxChanges bounds the changes listed.
	MaxChanges = 500
	// MaxIncidents bounds the incidents listed.
	MaxIncidents = 200
	// maxIncidentAuthorizers bounds the appids an incident carries.
	maxIncidentAuthorizers = 100
	// maxIncidentNames bounds the names an incident shows.
	maxIncidentNames = 5
	// ticketStaleAfter is when a verify ticket is stale (WeChat pushes
	// every 10 minutes), ticketMaxAge when it can no longer mint.
	ticketStaleAfter = 30 * time.Minute
	ticketMaxAge     = 12 * time.Hour
)

// Source is where the page reads from.
type Source struct {
	// Store and Prefix are WXCLOUDENV_STORE and WXCLOUDENV_STORE_PREFIX.
	Store  store.Store
	Prefix string
	// ComponentAppID is WECHAT_COMPONENT_APPID; token health needs it.
	ComponentAppID string
	// ForeignLayout is set when another service keeps the tokens
	// (WXCLOUDENV_TOKEN_LAYOUT other than wxcloudenv): their health is
	// that service's.
	ForeignLayout string
	// Names returns the names known for appids (nil: none known).
	Names func(ctx context.Context, appids []string) map[string]string
	// Now is the page's time (time.Now when zero).
	Now time.Time
}

func (s Source) now() time.Time {
	if s.Now.IsZero() {
		return time.Now().UTC()
	}
	return s.Now.UTC()
}

func (s Source) names(ctx context.Context, appids []string) map[string]string {
	if s.Names == nil || len(appids) == 0 {
		return map[string]string{}
	}
	m := s.Names(ctx, appids)
	if m == nil {
		return map[string]string{}
	}
	return m
}

// Counts are the page's headline numbers.
type Counts struct {
	// Authorizers is the fleet's size as last seen (the newest fleet run's
	// total, or the members kept in the store).
	Authorizers int `json:"authorizers"`
	// Failing counts the authorizers (or, without a fleet, operations)
	// with an open failure.
	Failing int `json:"failing"`
	// OpenAlerts counts the open alerts.
	OpenAlerts int `json:"open_alerts"`
	// Silenced counts the open alerts and failures an active silence
	// covers.
	Silenced int `json:"silenced"`
}

// Alert is an open alert or failure. Resource is "operation" for a
// failure.
type Alert struct {
	Authorizer string    `json:"authorizer,omitempty"`
	Name       string    `json:"name,omitempty"`
	Operation  string    `json:"operation"`
	Env        string    `json:"env,omitempty"`
	Resource   string    `json:"resource"`
	Status     string    `json:"status,omitempty"`
	Kind       string    `json:"kind,omitempty"`
	ErrCode    int       `json:"errcode,omitempty"`
	Message    string    `json:"message,omitempty"`
	Since      time.Time `json:"since"`
}

// Incident is a group of open alerts or failures that share a cause
// (as the robots' messages group them): operation, resource type, and status or
// kind+errcode.
type Incident struct {
	Key          string    `json:"key"`
	Operation    string    `json:"operation"`
	ResourceType string    `json:"resource_type"`
	Status       string    `json:"status,omitempty"`
	Kind         string    `json:"kind,omitempty"`
	ErrCode      int       `json:"errcode,omitempty"`
	Count        int       `json:"count"`
	Authorizers  []string  `json:"authorizers,omitempty"`
	Names        []string  `json:"names,omitempty"`
	Since        time.Time `json:"since"`
	// Example is one member's message.
	Example string `json:"example,omitempty"`
}

// Token is the health of one kind of token (docs/contract.md#tokens).
type Token struct {
	Name string `json:"name"`
	// Status is OK, STALE, EXPIRED, MISSING or UNKNOWN.
	Status string `json:"status"`
	Detail string `json:"detail"`
	// At is the time the status is about (a ticket's CreateTime, a
	// token's expiry), when known.
	At time.Time `json:"at,omitzero"`
}

// Silence is an active silence.
type Silence struct {
	ID        string            `json:"id"`
	Matchers  map[string]string `json:"matchers"`
	EndsAt    time.Time         `json:"ends_at"`
	Comment   string            `json:"comment,omitempty"`
	CreatedBy string            `json:"created_by,omitempty"`
}

// Data is the whole page.
type Data struct {
	Generated time.Time `json:"generated"`
	// LastRuns is the newest run of each kind that ran in 7 days.
	LastRuns  []history.Run `json:"last_runs"`
	Counts    Counts        `json:"counts"`
	Incidents []Incident    `json:"incidents"`
	// Alerts are the open alerts, oldest first, at most MaxListed;
	// AlertsOmitted counts the rest.
	Alerts        []Alert `json:"alerts"`
	AlertsOmitted int     `json:"alerts_omitted,omitempty"`
	// Failures are the open failures, oldest first, at most MaxListed.
	Failures        []Alert   `json:"failures"`
	FailuresOmitted int       `json:"failures_omitted,omitempty"`
	Tokens          []Token   `json:"tokens"`
	Silences        []Silence `json:"silences"`
	// Runs are the runs of the last 7 days, newest first (the picture).
	Runs        []history.Run `json:"runs"`
	RunsOmitted int           `json:"runs_omitted,omitempty"`
	// Changes are the newest changes first, at most MaxChanges.
	Changes     []history.Change `json:"changes"`
	MoreChanges bool             `json:"more_changes,omitempty"`
	// Errors name the parts that could not be read.
	Errors []string `json:"errors,omitempty"`
}

// Load reads the whole page from src. When a part cannot be read the rest
// is still returned, with Errors naming what is missing, and the error is
// the first one.
func Load(ctx context.Context, src Source) (*Data, error) {
	now := src.now()
	d := &Data{Generated: now, LastRuns: []history.Run{}, Incidents: []Incident{}, Alerts: []Alert{}, Failures: []Alert{},
		Tokens: []Token{}, Silences: []Silence{}, Runs: []history.Run{}, Changes: []history.Change{}}
	var errs []error
	fail := func(what string, err error) {
		errs = append(errs, err)
		d.Errors = append(d.Errors, what+" could not be read from the store")
	}

	h, err := history.Load(ctx, src.Store, src.Prefix, history.Query{MaxChanges: MaxChanges})
	if err != nil {
		fail("the run history", err)
	}
	if h != nil {
		d.Runs, d.RunsOmitted, d.Changes, d.MoreChanges = h.Runs, h.RunsOmitted, h.Changes, h.MoreChanges
	}
	for _, k := range history.Kinds {
		if i := slices.IndexFunc(d.Runs, func(r history.Run) bool { return r.Kind == k }); i >= 0 {
			d.LastRuns = append(d.LastRuns, d.Runs[i])
		}
	}

	open, err := alertstate.ListOpen(ctx, src.Store, src.Prefix, "")
	if err != nil {
		fail("the open alerts", err)
	}
	alerts, failures := split(open)
	d.Counts.OpenAlerts = len(alerts)
	failing := map[string]bool{}
	for _, f := range failures {
		failing[f.Authorizer+"\x00"+cond(f.Authorizer == "", f.Operation, "")] = true
	}
	d.Counts.Failing = len(failing)
	d.Incidents = group(alerts, failures)

	d.Counts.Authorizers = fleetSize(ctx, src, d.Runs)

	// Names for what is shown.
	var appids []string
	seen := map[string]bool{}
	add := func(a string) {
		if a != "" && !seen[a] {
			seen[a] = true
			appids = append(appids, a)
		}
	}
	d.Alerts, d.AlertsOmitted = listed(alerts)
	d.Failures, d.FailuresOmitted = listed(failures)
	for _, l := range [][]Alert{d.Alerts, d.Failures} {
		for _, a := range l {
			add(a.Authorizer)
		}
	}
	for _, in := range d.Incidents {
		for _, a := range in.Authorizers[:min(len(in.Authorizers), maxIncidentNames)] {
			add(a)
		}
	}
	names := src.names(ctx, appids)
	for _, l := range [][]Alert{d.Alerts, d.Failures} {
		for i := range l {
			l[i].Name = names[l[i].Authorizer]
		}
	}
	for i := range d.Incidents {
		in := &d.Incidents[i]
		for _, a := range in.Authorizers[:min(len(in.Authorizers), maxIncidentNames)] {
			in.Names = append(in.Names, cmp.Or(names[a], a))
		}
	}

	d.Tokens = tokenHealth(ctx, src, now)

	book := silence.Book{Store: src.Store, Prefix: src.Prefix}
	active, err := book.Active(ctx, now)
	if err != nil {
		fail("the silences", err)
	}
	d.Silences, d.Counts.Silenced = silences(active, open)
	return d, errors.Join(errs...)
}

// silences lists the active silences, ending soonest first, and counts the
// open alerts and failures one of them covers.
func silences(active []silence.Silence, open []alertstate.Open) ([]Silence, int) {
	out := make([]Silence, 0, len(active))
	for _, s := range active {
		m := make(map[string]string, len(s.Matchers))
		for k, vals := range s.Matchers {
			m[k] = strings.Join(vals, ", ")
		}
		out = append(out, Silence{ID: s.ID, Matchers: m, EndsAt: s.EndsAt, Comment: s.Comment, CreatedBy: s.CreatedBy})
	}
	order.SortFunc(out, func(a, b Silence) int { return cmp.Or(a.EndsAt.Compare(b.EndsAt), cmp.Compare(a.ID, b.ID)) })
	covered := 0
	if len(active) > 0 {
		for _, o := range open {
			t := silence.Target{Authorizer: o.Authorizer, Operation: o.Operation, Env: o.Env, Resource: o.Resource,
				Status: o.Status, Kind: o.Kind, ErrCode: o.ErrCode}
			if silence.Match(active, t) != "" {
				covered++
			}
		}
	}
	return out, covered
}

func cond[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}

// split turns the open state into alerts and failures, oldest first.
func split(open []alertstate.Open) (alerts, failures []Alert) {
	for _, o := range open {
		a := Alert{Authorizer: o.Authorizer, Operation: o.Operation, Env: o.Env, Resource: o.Resource, Status: o.Status,
			Kind: o.Kind, ErrCode: o.ErrCode, Message: o.Message, Since: o.Since}
		if o.Resource == alertstate.ResourceOperation {
			failures = append(failures, a)
		} else {
			alerts = append(alerts, a)
		}
	}
	byOrder := func(a, b Alert) int {
		return cmp.Or(a.Since.Compare(b.Since), cmp.Compare(a.Authorizer, b.Authorizer), cmp.Compare(a.Operation, b.Operation),
			cmp.Compare(a.Env, b.Env), cmp.Compare(a.Resource, b.Resource))
	}
	order.SortFunc(alerts, byOrder)
	order.SortFunc(failures, byOrder)
	return alerts, failures
}

func listed(l []Alert) ([]Alert, int) {
	if len(l) <= MaxListed {
		return slices.Clone(l), 0
	}
	return slices.Clone(l[:MaxListed]), len(l) - MaxListed
}

// resourceType is a resource without its id: database:<id> is database.
func resourceType(r string) string {
	t, _, _ := strings.Cut(r, ":")
	return t
}

// group groups alerts and failures into incidents, the largest first.
func group(alerts, failures []Alert) []Incident {
	by := map[string]*Incident{}
	members := map[string]map[string]bool{}
	var list []*Incident
	for _, a := range slices.Concat(failures, alerts) {
		in := Incident{Operation: a.Operation, ResourceType: resourceType(a.Resource)}
		if a.Resource == alertstate.ResourceOperation {
			in.Kind, in.ErrCode = a.Kind, a.ErrCode
			in.Key = strings.Join([]string{a.Operation, in.ResourceType, a.Kind, strconv.Itoa(a.ErrCode)}, "/")
		} else {
			in.Status = a.Status
			in.Key = strings.Join([]string{a.Operation, in.ResourceType, a.Status}, "/")
		}
		g, ok := by[in.Key]
		if !ok {
			in.Since = a.Since
			in.Example = a.Message
			g = &in
			by[in.Key] = g
			members[in.Key] = map[string]bool{}
			list = append(list, g)
		}
		// A member is an authorizer, or an env without a fleet.
		m := cmp.Or(a.Authorizer, "env:"+a.Env)
		if !members[in.Key][m] {
			members[in.Key][m] = true
			g.Count++
			if a.Authorizer != "" && len(g.Authorizers) < maxIncidentAuthorizers {
				g.Authorizers = append(g.Authorizers, a.Authorizer)
			}
		}
		if a.Since.Before(g.Since) {
			g.Since = a.Since
		}
	}
	order.SortStableFunc(list, func(a, b *Incident) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), a.Since.Compare(b.Since), cmp.Compare(a.Key, b.Key))
	})
	out := make([]Incident, 0, min(len(list), MaxIncidents))
	for _, g := range list[:min(len(list), MaxIncidents)] {
		out = append(out, *g)
	}
	return out
}

// fleetSize is the newest fleet run's total, else the members kept in the
// store.
func fleetSize(ctx context.Context, src Source, runs []history.Run) int {
	for _, r := range runs {
		if r.Kind == history.KindFleet && r.Authorizers > 0 {
			return r.Authorizers
		}
	}
	if src.ComponentAppID == "" {
		return 0
	}
	keys, err := src.Store.Keys(ctx, tokens.Keys{Prefix: src.Prefix}.FleetPrefix(src.ComponentAppID))
	if err != nil {
		return 0
	}
	return len(keys)
}

// tokenHealth reads what the store holds about the platform's tokens,
// never their values.
func tokenHealth(ctx context.Context, src Source, now time.Time) []Token {
	if src.ComponentAppID == "" {
		return []Token{}
	}
	if src.ForeignLayout != "" {
		return []Token{{Name: "component tokens", Status: "UNKNOWN",
			Detail: "kept by the platform's own token service (layout " + src.ForeignLayout + "); this function only reads them"}}
	}
	keys := tokens.Keys{Prefix: src.Prefix}
	var out []Token
	// The verify ticket: its CreateTime only.
	t := Token{Name: "verify ticket"}
	v, err := src.Store.Get(ctx, keys.Ticket(src.ComponentAppID))
	var ticket struct {
		CreateTime int64 `json:"create_time"`
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		t.Status, t.Detail = "MISSING", "no pushed ticket in the store; minting uses WECHAT_COMPONENT_VERIFY_TICKET, if set"
	case err != nil:
		t.Status, t.Detail = "UNKNOWN", "the store could not be read"
	case json.Unmarshal(v.Data, &ticket) != nil || ticket.CreateTime == 0:
		t.Status, t.Detail = "UNKNOWN", "the stored ticket could not be read"
	default:
		t.At = time.Unix(ticket.CreateTime, 0).UTC()
		age := now.Sub(t.At)
		switch {
		case age >= ticketMaxAge:
			t.Status, t.Detail = "EXPIRED", "last pushed "+Ago(age)+" ago; over 12 hours: the component token can no longer be minted with it"
		case age >= ticketStaleAfter:
			t.Status, t.Detail = "STALE", "last pushed "+Ago(age)+" ago (WeChat pushes every 10 minutes); minting still works for "+Ago(ticketMaxAge-age)
		default:
			t.Status, t.Detail = "OK", "last pushed "+Ago(age)+" ago"
		}
	}
	out = append(out, t)
	// The component token: its expiry only.
	c := Token{Name: "component access token"}
	v, err = src.Store.Get(ctx, keys.ComponentToken(src.ComponentAppID))
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.Status, c.Detail = "MISSING", "none in the store; the next run that needs it mints one"
	case err != nil:
		c.Status, c.Detail = "UNKNOWN", "the store could not be read"
	case v.Expires.IsZero():
		c.Status, c.Detail = "OK", "kept in the store"
	default:
		c.At = v.Expires.UTC()
		c.Status, c.Detail = "OK", "kept in the store; expires in "+Ago(v.Expires.Sub(now))
	}
	out = append(out, c)
	return out
}

// Ago writes a duration for people: 45s, 12m, 3h 5m, 2d 4h.
func Ago(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 24*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h " + strconv.Itoa(int(d%time.Hour/time.Minute)) + "m"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d " + strconv.Itoa(int(d%(24*time.Hour)/time.Hour)) + "h"
}

// EnvSeen is an environment of an authorizer as last seen in its alerts
// and changes.
type EnvSeen struct {
	Env      string    `json:"env"`
	Resource string    `json:"resource"`
	Status   string    `json:"status"`
	At       time.Time `json:"at"`
	Open     bool      `json:"open"`
}

// AuthorizerData is one authorizer's page.
type AuthorizerData struct {
	Generated  time.Time `json:"generated"`
	Authorizer string    `json:"authorizer"`
	Name       string    `json:"name,omitempty"`
	// Envs are its environments (and their resources) as last seen.
	Envs []EnvSeen `json:"envs"`
	// Open are its open alerts and failures.
	Open []Alert `json:"open"`
	// Changes are its newest changes first.
	Changes     []history.Change `json:"changes"`
	MoreChanges bool             `json:"more_changes,omitempty"`
	// Robots are the kinds and hosts of its own robots.
	Robots []string `json:"robots"`
	Errors []string `json:"errors,omitempty"`
}

// LoadAuthorizer reads one authorizer's page.
func LoadAuthorizer(ctx context.Context, src Source, appid string) (*AuthorizerData, error) {
	d := &AuthorizerData{Generated: src.now(), Authorizer: appid, Envs: []EnvSeen{}, Open: []Alert{}, Changes: []history.Change{}, Robots: []string{}}
	var errs []error
	open, err := alertstate.ListOpen(ctx, src.Store, src.Prefix, appid)
	if err != nil {
		errs = append(errs, err)
		d.Errors = append(d.Errors, "the open alerts could not be read from the store")
	}
	alerts, failures := split(open)
	d.Open = append(failures, alerts...)
	if len(d.Open) > MaxListed {
		d.Open = d.Open[:MaxListed]
	}
	h, err := history.Load(ctx, src.Store, src.Prefix, history.Query{MaxChanges: MaxChanges, Authorizer: appid, NoRuns: true})
	if err != nil {
		errs = append(errs, err)
		d.Errors = append(d.Errors, "the run history could not be read from the store")
	}
	if h != nil {
		d.Changes, d.MoreChanges = h.Changes, h.MoreChanges
	}
	d.Name = src.names(ctx, []string{appid})[appid]
	// Its own robots, as kinds and hosts (never a URL).
	own, err := robots.Get(ctx, src.Store, src.Prefix, appid)
	if err != nil {
		errs = append(errs, err)
		d.Errors = append(d.Errors, "its own robots could not be read from the store")
	}
	for _, r := range robots.Describe(own) {
		d.Robots = append(d.Robots, string(r.Kind)+" "+r.Host)
	}
	// Environments: open alerts first (current), then the newest change of
	// each other resource.
	seen := map[string]bool{}
	for _, a := range alerts {
		id := a.Env + "\x00" + a.Resource
		if !seen[id] {
			seen[id] = true
			d.Envs = append(d.Envs, EnvSeen{Env: a.Env, Resource: a.Resource, Status: a.Status, At: a.Since, Open: true})
		}
	}
	for _, c := range d.Changes {
		id := c.Env + "\x00" + c.Resource
		if c.Env == "" || seen[id] {
			continue
		}
		seen[id] = true
		st := c.Status
		if c.Change == alertstate.ChangeResolved {
			st = "resolved (was " + c.Status + ")"
		}
		d.Envs = append(d.Envs, EnvSeen{Env: c.Env, Resource: c.Resource, Status: st, At: c.Time})
	}
	order.SortStableFunc(d.Envs, func(a, b EnvSeen) int { return cmp.Or(cmp.Compare(a.Env, b.Env), cmp.Compare(a.Resource, b.Resource)) })
	return d, errors.Join(errs...)
}
