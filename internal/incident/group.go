// Package incident turns a run's many changes into the few incidents a
// person reads (docs/alerts.md#incidents-not-lines, contract section 14):
// changes that share a cause are grouped into one line, and platform-level
// failures (the component token, the authorizer list, WeChat unreachable,
// the run's own deadline) become one line at the top that inhibits the
// per-authorizer failures they cause.
//
// Everything here is a pure function of its input: no store, no clock, no
// network. The alert path (package alerts) calls it between claiming the
// changes and rendering the robots' messages.
package incident

import (
	"cmp"
	"strconv"
	"strings"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/order"
)

// DefaultGroupMin is WXCLOUDENV_NOTIFY_GROUP_MIN's default: changes that
// share a cause and cover at least this many authorizers or envs are one
// line.
const DefaultGroupMin = 3

// MaxAuthorizers bounds the appids an Incident lists.
const MaxAuthorizers = 100

// MaxNames is how many names a grouped line shows before "+N more".
const MaxNames = 5

// Change values, as package alertstate spells them.
const (
	ChangeNew      = "new"
	ChangeResolved = "resolved"
	ChangeReminder = "reminder"
)

// ResourceOperation is the resource of a failure's change.
const ResourceOperation = "operation"

// Item is one change or reminder, by its labels (contract section 14).
type Item struct {
	// Change is "new", "resolved" or "reminder".
	Change string
	// Authorizer is the authorizer's appid; empty outside a fleet.
	Authorizer string
	// Name is the authorizer's nick_name, when known.
	Name string
	// Operation is the operation that saw it.
	Operation string
	// Env is the environment of an alert; empty for a failure.
	Env string
	// Resource is "operation" for a failure, else the alert's resource.
	Resource string
	// Status is an alert's status.
	Status string
	// Kind and ErrCode are a failure's error kind and errcode.
	Kind    string
	ErrCode int
	// Message is the item's message.
	Message string
	// Since is when it was first seen.
	Since time.Time
}

// Incident is a group of items that share a cause: one line in a message
// and one entry of the event's "incidents".
type Incident struct {
	// Key identifies the shared cause, the same in every run:
	// change:operation:resource:status, or change:operation:operation:kind:errcode.
	Key string `json:"key"`
	// Count is how many items the group holds.
	Count int `json:"count"`
	// Change is the items' change.
	Change string `json:"change"`
	// The shared labels.
	Operation string `json:"operation"`
	Resource  string `json:"resource"`
	Status    string `json:"status,omitempty"`
	Kind      string `json:"kind,omitempty"`
	ErrCode   int    `json:"errcode,omitempty"`
	// Message is the members' message when they all share it.
	Message string `json:"message,omitempty"`
	// Authorizers are the members' appids, sorted, at most
	// MaxAuthorizers.
	Authorizers []string `json:"authorizers"`
	// Since is the earliest member's since.
	Since time.Time `json:"since"`
	// Members are the items' indexes in the input, in appid order.
	Members []int `json:"-"`
}

// groupKey is what the items of one group share.
type groupKey struct {
	change, operation, resource, status, kind string
	errcode                                   int
}

func keyOf(it *Item) groupKey {
	if it.Resource == ResourceOperation {
		return groupKey{change: it.Change, operation: it.Operation, resource: it.Resource, kind: it.Kind, errcode: it.ErrCode}
	}
	return groupKey{change: it.Change, operation: it.Operation, resource: it.Resource, status: it.Status}
}

// key returns the item's group key as Incident.Key spells it.
func key(it *Item) string {
	var b strings.Builder
	b.Grow(64)
	b.WriteString(it.Change)
	b.WriteByte(':')
	b.WriteString(it.Operation)
	b.WriteByte(':')
	b.WriteString(it.Resource)
	b.WriteByte(':')
	if it.Resource == ResourceOperation {
		b.WriteString(it.Kind)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(it.ErrCode))
	} else {
		b.WriteString(it.Status)
	}
	return b.String()
}

// Priority orders lines, most important first: failures, new HALTED or
// UNAVAILABLE alerts, other new alerts, reminders, resolved.
func Priority(it *Item) int {
	switch {
	case it.Change == ChangeResolved:
		return 4
	case it.Change == ChangeReminder:
		return 3
	case it.Resource == ResourceOperation:
		return 0
	case it.Status == "HALTED" || it.Status == "UNAVAILABLE":
		return 1
	default:
		return 2
	}
}

// Group finds the items that share (change, operation, resource, status or
// kind+errcode) and cover at least least distinct authorizers or envs, and
// returns them as incidents, most important first (then the largest
// first), with of[i] the index in incidents of items[i]'s group, or -1
// when items[i] stands on its own. least 0 never groups.
func Group(items []Item, least int) (incidents []Incident, of []int) {
	of = make([]int, len(items))
	for i := range of {
		of[i] = -1
	}
	if least <= 0 || len(items) < least {
		return nil, of
	}
	byKey := map[groupKey][]int{}
	var keys []groupKey
	for i := range items {
		k := keyOf(&items[i])
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], i)
	}
	for _, gk := range keys {
		members := byKey[gk]
		if len(members) < least || coverage(items, members) < least {
			continue
		}
		order.SortStableFunc(members, func(a, b int) int {
			return cmp.Or(strings.Compare(items[a].Authorizer, items[b].Authorizer), strings.Compare(items[a].Env, items[b].Env))
		})
		first := &items[members[0]]
		inc := Incident{Key: key(first), Count: len(members), Change: first.Change, Operation: first.Operation, Resource: first.Resource,
			Members: members, Message: first.Message}
		if first.Resource == ResourceOperation {
			inc.Kind, inc.ErrCode = first.Kind, first.ErrCode
		} else {
			inc.Status = first.Status
		}
		inc.Authorizers = make([]string, 0, min(len(members), MaxAuthorizers))
		for _, m := range members {
			it := &items[m]
			if it.Message != inc.Message {
				inc.Message = ""
			}
			if inc.Since.IsZero() || !it.Since.IsZero() && it.Since.Before(inc.Since) {
				inc.Since = it.Since
			}
			if a := it.Authorizer; a != "" && len(inc.Authorizers) < MaxAuthorizers &&
				(len(inc.Authorizers) == 0 || inc.Authorizers[len(inc.Authorizers)-1] != a) {
				inc.Authorizers = append(inc.Authorizers, a)
			}
		}
		incidents = append(incidents, inc)
	}
	order.SortStableFunc(incidents, func(a, b Incident) int {
		return cmp.Or(cmp.Compare(Priority(&items[a.Members[0]]), Priority(&items[b.Members[0]])), cmp.Compare(b.Count, a.Count),
			strings.Compare(a.Key, b.Key))
	})
	for g := range incidents {
		for _, m := range incidents[g].Members {
			of[m] = g
		}
	}
	return incidents, of
}

// coverage counts the distinct (authorizer, env) pairs of members.
func coverage(items []Item, members []int) int {
	type pair struct{ a, e string }
	seen := make(map[pair]struct{}, len(members))
	for _, m := range members {
		seen[pair{items[m].Authorizer, items[m].Env}] = struct{}{}
	}
	return len(seen)
}
