package invoke

import (
	"encoding/json"
	"fmt"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// summary is what the core reads from an answer: the count of environments
// and the alerts. Only the status fields are decoded.
type summary struct {
	items  int
	alerts []Alert
}

type envInfoStatus struct {
	InfoList []struct {
		Env    string `json:"env"`
		Alias  string `json:"alias"`
		Status string `json:"status"`
	} `json:"info_list"`
}

type runEnvsStatus struct {
	EnvList []struct {
		EnvID     string `json:"env_id"`
		Alias     string `json:"alias"`
		Status    string `json:"status"`
		Databases []struct {
			InstanceID string `json:"instance_id"`
			Status     string `json:"status"`
		} `json:"databases"`
		StaticStorages []struct {
			Bucket string `json:"bucket"`
			Status string `json:"status"`
		} `json:"static_storages"`
	} `json:"env_list"`
}

// summarize reads the environments of a successful answer and lists those
// whose status is not NORMAL, databases UNUSABLE or OVERDUE, and static
// storages offline.
func summarize(op string, raw []byte) (summary, error) {
	var s summary
	switch op {
	case wechat.OpGetEnvInfo:
		var a envInfoStatus
		if err := json.Unmarshal(raw, &a); err != nil {
			return s, err
		}
		s.items = len(a.InfoList)
		for _, e := range a.InfoList {
			s.alerts = appendEnvAlert(s.alerts, op, e.Env, e.Alias, e.Status)
		}
	case wechat.OpDescribeCloudBaseRunEnvs:
		var a runEnvsStatus
		if err := json.Unmarshal(raw, &a); err != nil {
			return s, err
		}
		s.items = len(a.EnvList)
		for _, e := range a.EnvList {
			s.alerts = appendEnvAlert(s.alerts, op, e.EnvID, e.Alias, e.Status)
			for _, d := range e.Databases {
				if d.Status == wechat.DatabaseUnusable || d.Status == wechat.DatabaseOverdue {
					s.alerts = append(s.alerts, Alert{Operation: op, Env: e.EnvID, Resource: "database:" + d.InstanceID, Status: d.Status,
						Message: fmt.Sprintf("database %s of environment %s is %s", d.InstanceID, e.EnvID, d.Status)})
				}
			}
			for _, st := range e.StaticStorages {
				if st.Status == wechat.StaticStorageOffline {
					s.alerts = append(s.alerts, Alert{Operation: op, Env: e.EnvID, Resource: "static_storage:" + st.Bucket, Status: st.Status,
						Message: fmt.Sprintf("static storage %s of environment %s is offline", st.Bucket, e.EnvID)})
				}
			}
		}
	}
	return s, nil
}

// appendEnvAlert adds an alert when an environment's status is not NORMAL.
func appendEnvAlert(alerts []Alert, op, env, aliasName, status string) []Alert {
	if status == wechat.EnvNormal {
		return alerts
	}
	return append(alerts, Alert{Operation: op, Env: env, Resource: "environment", Status: status,
		Message: fmt.Sprintf("environment %s%s is %s, not NORMAL", env, alias(aliasName), statusText(status))})
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
