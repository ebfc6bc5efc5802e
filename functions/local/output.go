package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/wxcloudenv/wxcloudenv/internal/alerts"
	"github.com/wxcloudenv/wxcloudenv/internal/incident"
	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/internal/notify"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

func mintCounts(srv *wechattest.Server) map[string]int {
	m := map[string]int{}
	for _, k := range []string{"component", "authorizer", "access"} {
		m[k] = srv.Mints(k)
	}
	return m
}

// notifyPreview renders the message a WeCom robot would get for the run's
// changes, or says there is none.
func notifyPreview(out []byte) string {
	var wrapper map[string]json.RawMessage
	if json.Unmarshal(out, &wrapper) != nil {
		return "notify preview: the answer is not an event\n"
	}
	if body, ok := httpBody(wrapper); ok {
		out = body
	}
	var ev invoke.Event
	if json.Unmarshal(out, &ev) != nil {
		return "notify preview: the answer is not an event\n"
	}
	r := notify.Report{Platform: ev.Platform, Function: "wxcloudenv", GroupMin: incident.DefaultGroupMin}
	for _, c := range ev.Changes {
		if c.Change == alerts.ChangeReminder {
			r.Reminders = append(r.Reminders, c)
		} else {
			r.Changes = append(r.Changes, c)
		}
	}
	if r.Empty() {
		return "notify preview: no changes, no message would be sent\n"
	}
	m := notify.Render(notify.WeCom, r)
	return "notify preview (WeCom markdown, not sent):\n" + m.Text + "\n"
}

// readable shows an HTTP answer's body as JSON inside its wrapper, indented.
func readable(out []byte) []byte {
	var wrapper map[string]json.RawMessage
	if json.Unmarshal(out, &wrapper) == nil {
		if body, ok := httpBody(wrapper); ok && json.Valid(body) {
			wrapper["body"] = body
			if b, err := json.Marshal(wrapper); err == nil {
				out = b
			}
		}
	}
	var buf bytes.Buffer
	if json.Indent(&buf, out, "", "  ") != nil {
		return out
	}
	return buf.Bytes()
}

// httpBody returns the decoded body of a platform's HTTP answer.
func httpBody(wrapper map[string]json.RawMessage) ([]byte, bool) {
	if _, ok := wrapper["statusCode"]; !ok {
		return nil, false
	}
	var body string
	if json.Unmarshal(wrapper["body"], &body) != nil {
		return nil, false
	}
	var b64 bool
	_ = json.Unmarshal(wrapper["isBase64Encoded"], &b64) // absent or not a bool: not base64
	if b64 {
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return nil, false
		}
		return b, true
	}
	return []byte(body), true
}

// summaryError is what the summary reads of an error in an event.
type summaryError struct {
	Kind       string `json:"kind"`
	ErrCode    int    `json:"errcode"`
	HTTPStatus int    `json:"http_status"`
}

func (e *summaryError) String() string {
	if e == nil {
		return ""
	}
	s := ": " + e.Kind
	if e.ErrCode != 0 {
		s += " errcode " + strconv.Itoa(e.ErrCode)
	}
	if e.HTTPStatus != 0 {
		s += " HTTP " + strconv.Itoa(e.HTTPStatus)
	}
	return s
}

// eventSummary is what the summary reads of an event.
type eventSummary struct {
	OK      *bool `json:"ok"`
	Results map[string]struct {
		OK          bool `json:"ok"`
		Total       int  `json:"total"`
		Failed      int  `json:"failed"`
		Authorizers map[string]struct {
			OK       bool                       `json:"ok"`
			Response map[string]json.RawMessage `json:"response"`
			Error    *summaryError              `json:"error"`
		} `json:"authorizers"`
		Response map[string]json.RawMessage `json:"response"`
		Error    *summaryError              `json:"error"`
	} `json:"results"`
	Alerts        []invoke.Alert        `json:"alerts"`
	Notifications []invoke.Notification `json:"notifications"`
}

// summary returns the lines printed after the answer: one with the counts,
// then one per alert and failure. It is empty when out is no event.
func summary(out []byte) string {
	var wrapper map[string]json.RawMessage
	if json.Unmarshal(out, &wrapper) != nil {
		return ""
	}
	if body, ok := httpBody(wrapper); ok {
		out = body
	}
	var ev eventSummary
	if json.Unmarshal(out, &ev) != nil || ev.Results == nil {
		return ""
	}
	ops := make([]string, 0, len(ev.Results))
	for op := range ev.Results {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	var items, failures int
	var lines []string
	for _, op := range ops {
		r := ev.Results[op]
		if r.Authorizers != nil {
			lines = append(lines, fmt.Sprintf("  %s over %d authorizers, %d failed", op, r.Total, r.Failed))
			ids := make([]string, 0, len(r.Authorizers))
			for id := range r.Authorizers {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			for _, id := range ids {
				a := r.Authorizers[id]
				if !a.OK {
					lines = append(lines, "  FAILED "+op+" "+id+a.Error.String())
				}
				for _, key := range []string{"info_list", "env_list"} {
					var list []json.RawMessage
					if json.Unmarshal(a.Response[key], &list) == nil {
						items += len(list)
					}
				}
			}
			if !r.OK {
				failures++
			}
			continue
		}
		if !r.OK {
			failures++
			lines = append(lines, "  FAILED "+op+r.Error.String())
			continue
		}
		for _, key := range []string{"info_list", "env_list"} {
			var list []json.RawMessage
			if json.Unmarshal(r.Response[key], &list) == nil {
				items += len(list)
			}
		}
	}
	for _, a := range ev.Alerts {
		if a.Authorizer != "" {
			lines = append(lines, "  ALERT "+a.Authorizer+" "+a.Message)
		} else {
			lines = append(lines, "  ALERT "+a.Message)
		}
	}
	robotFailures := 0
	for _, n := range ev.Notifications {
		if n.Status == "failed" {
			robotFailures++
			lines = append(lines, "  ROBOT FAILED "+n.Channel+": "+n.Error)
		}
	}
	head := fmt.Sprintf("summary: %d operations, %d items, %d alerts, %d failures", len(ops), items, len(ev.Alerts), failures)
	if len(ev.Notifications) > 0 {
		head += fmt.Sprintf(", %d of %d robot messages failed", robotFailures, len(ev.Notifications))
	}
	return head + "\n" + strings.Join(append(lines, ""), "\n")
}
