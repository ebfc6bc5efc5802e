package invoke

import (
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// alertsOf turns what the client read of an answer's environments into
// alerts: an environment whose status is not NORMAL, a database UNUSABLE
// or OVERDUE, a static storage offline.
func alertsOf(op string, h wechat.Health) []Alert {
	var alerts []Alert
	for _, e := range h.Attention {
		if e.Status != wechat.EnvNormal {
			alerts = append(alerts, Alert{Operation: op, Env: e.Env, Resource: "environment", Status: e.Status,
				Message: "environment " + e.Env + alias(e.Alias) + " is " + statusText(e.Status) + ", not NORMAL"})
		}
		for _, d := range e.Databases {
			alerts = append(alerts, Alert{Operation: op, Env: e.Env, Resource: "database:" + d.ID, Status: d.Status,
				Message: "database " + d.ID + " of environment " + e.Env + " is " + d.Status})
		}
		for _, st := range e.StaticStorages {
			alerts = append(alerts, Alert{Operation: op, Env: e.Env, Resource: "static_storage:" + st.ID, Status: st.Status,
				Message: "static storage " + st.ID + " of environment " + e.Env + " is offline"})
		}
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
