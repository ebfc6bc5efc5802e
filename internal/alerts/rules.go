package alerts

import (
	"strconv"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// NeedsAttention is the alert rule: an environment whose status is not
// NORMAL, a database UNUSABLE or OVERDUE, a static storage offline. The
// WeChat client keeps only the resources it selects.
func NeedsAttention(kind wechat.ResourceKind, status string) bool {
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

// Of turns the resources the client kept with NeedsAttention into alerts of
// operation op for authorizer (empty outside a fleet), one per resource.
// The client keeps at most wechat.MaxResources; when it counted more, a
// last alert with resource "more" says how many were left out. Every text
// in them is bounded by the client (wechat.MaxIDBytes,
// wechat.MaxStatusBytes).
func Of(op, authorizer string, h wechat.Health) []Alert {
	var alerts []Alert
	for _, r := range h.Resources {
		if !NeedsAttention(r.Kind, r.Status) {
			continue
		}
		a := Alert{Authorizer: authorizer, Operation: op, Env: r.Env, Status: r.Status}
		switch r.Kind {
		case wechat.ResourceEnvironment:
			a.Resource = "environment"
			a.Message = "environment " + r.Env + alias(r.Alias) + " is " + statusText(r.Status) + ", not NORMAL"
		case wechat.ResourceDatabase:
			a.Resource = "database:" + r.ID
			a.Message = "database " + r.ID + " of environment " + r.Env + " is " + r.Status
		case wechat.ResourceStaticStorage:
			a.Resource = "static_storage:" + r.ID
			a.Message = "static storage " + r.ID + " of environment " + r.Env + " is offline"
		default:
			continue
		}
		alerts = append(alerts, a)
	}
	if h.Omitted > 0 {
		alerts = append(alerts, Alert{Authorizer: authorizer, Operation: op, Resource: "more", Status: "OMITTED",
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
