package invoke

import (
	"strconv"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// The alert rules: an environment whose status is not NORMAL, a database
// UNUSABLE or OVERDUE, a static storage offline.
func needsAttention(kind wechat.ResourceKind, status string) bool {
	switch kind {
	case wechat.ResourceEnvironment:
		return status != wechat.EnvNormal
	case wechat.ResourceDatabase:
		return status == wechat.DatabaseUnusable || status == wechat.DatabaseOverdue
	case wechat.ResourceStaticStorage:
		return status == wechat.StaticStorageOffline
	}
	return false
}

// alertsOf turns the resources the client kept with needsAttention into
// alerts, one per resource. The client keeps at most
// wechat.MaxResources; when it counted more, a last alert with resource
// "more" says how many were left out. Every text in them is bounded by
// the client (wechat.MaxIDBytes, wechat.MaxStatusBytes).
func alertsOf(op string, h wechat.Health) []Alert {
	var alerts []Alert
	for _, r := range h.Resources {
		if !needsAttention(r.Kind, r.Status) {
			continue
		}
		switch r.Kind {
		case wechat.ResourceEnvironment:
			alerts = append(alerts, Alert{Operation: op, Env: r.Env, Resource: "environment", Status: r.Status,
				Message: "environment " + r.Env + alias(r.Alias) + " is " + statusText(r.Status) + ", not NORMAL"})
		case wechat.ResourceDatabase:
			alerts = append(alerts, Alert{Operation: op, Env: r.Env, Resource: "database:" + r.ID, Status: r.Status,
				Message: "database " + r.ID + " of environment " + r.Env + " is " + r.Status})
		case wechat.ResourceStaticStorage:
			alerts = append(alerts, Alert{Operation: op, Env: r.Env, Resource: "static_storage:" + r.ID, Status: r.Status,
				Message: "static storage " + r.ID + " of environment " + r.Env + " is offline"})
		}
	}
	if h.Omitted > 0 {
		alerts = append(alerts, Alert{Operation: op, Resource: "more", Status: "OMITTED",
			Message: "and " + strconv.Itoa(h.Omitted) + " more resources that need attention, not listed (at most " +
				strconv.Itoa(wechat.MaxResources) + " are)"})
	}
	return alerts
}

func alias(a string) string {
	if a == "" {
		return ""
	}
	return " (" + a + ")"
}

func statusText(s string) string {
	if s == "" {
		return "without a status"
	}
	return s
}

// minAnswerBytes is a lower bound of the size of ev's answer: the event
// embeds each response as received. When it is over the answer cap
// already, the event is not built.
func minAnswerBytes(ev *Event) int {
	n := 0
	for _, r := range ev.Results {
		n += len(r.Response)
		for _, a := range r.Authorizers {
			n += len(a.Response)
		}
	}
	return n
}
