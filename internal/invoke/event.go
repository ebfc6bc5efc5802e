package invoke

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alerts"
	"github.com/wxcloudenv/wxcloudenv/internal/incident"
	"github.com/wxcloudenv/wxcloudenv/internal/jsonw"
	"github.com/wxcloudenv/wxcloudenv/internal/queue"
	"github.com/wxcloudenv/wxcloudenv/internal/warnings"
)

// EventSource is the output event's "source".
const EventSource = "wxcloudenv"

// Event is the output event of one invocation
// (docs/contract.md#the-output-event). AppendJSON writes it with WeChat's
// answers copied in byte for byte; it round-trips through encoding/json.
type Event struct {
	Source    string    `json:"source"` // always EventSource when written
	Platform  string    `json:"platform"`
	Trigger   string    `json:"trigger"`
	RequestID string    `json:"request_id"`
	Time      time.Time `json:"time"`
	OK        bool      `json:"ok"`
	// Compact is set when a scheduled run's full event would pass the
	// answer cap, so each response was replaced by its item count.
	Compact bool `json:"compact,omitempty"`
	// Results are in the order the operations were asked for; written as
	// an object keyed by operation.
	Results []Result `json:"results"`
	Alerts  []Alert  `json:"alerts"`
	// Changes are the transitions since the previous run, when alert state
	// is kept.
	Changes []Change `json:"changes,omitempty"`
	// Incidents are the changes and reminders that share a cause, grouped
	// as the robots' messages show them (docs/alerts.md#incidents-not-lines).
	Incidents []incident.Incident `json:"incidents,omitempty"`
	// PlatformFailures are the run's platform-level failures (the
	// component token, the authorizer list, WeChat unreachable, the run's
	// deadline) and how many authorizer checks each inhibited.
	PlatformFailures []incident.Cause `json:"platform_failures,omitempty"`
	// Notifications are each robot channel's outcome.
	Notifications []Notification `json:"notifications,omitempty"`
	// Planned is what a queued fleet run planned (docs/queue.md).
	Planned *queue.Planned `json:"planned,omitempty"`

	warnings *warnings.Report // the platform's warnings (warnings.go)
	sink     *spool           // where a large fleet's bytes go as they are written (fleetspool.go)
}

// Result is the outcome of one operation, or of one authorizer in a
// fleet result.
type Result struct {
	Operation  string `json:"-"` // the key in results
	Authorizer string `json:"-"` // the key in a fleet's authorizers
	// Name is a fleet authorizer's name (nick_name), when known.
	Name     string          `json:"name,omitempty"`
	OK       bool            `json:"ok"`
	Attempts int             `json:"attempts"`
	Duration time.Duration   `json:"-"` // written as duration_ms
	Response json.RawMessage `json:"response,omitempty"`
	Error    *ErrorInfo      `json:"error,omitempty"`
	// Items counts the environments in the answer; written only in a
	// compact event, in place of the response.
	Items int `json:"items,omitempty"`
	// Fleet results (getenvinfo over named authorizers) have Total, Failed
	// and one Result per authorizer.
	Fleet       bool     `json:"-"`
	Total       int      `json:"total,omitempty"`
	Failed      int      `json:"failed,omitempty"`
	Authorizers []Result `json:"-"` // a decoded event's, written as an object keyed by appid

	alerts []Alert
	// unreached is set for a fleet authorizer the run's deadline came
	// before: it was not checked.
	unreached bool
	// whole is set on a fleet result whose run got what the fleet as a
	// whole needs (the authorizer list and the component token): the
	// fleet-level scope was checked, and resolves what it had open.
	whole bool
	// spooled is where a fleet authorizer's response was set aside, out
	// of the heap, while the run went on (fleetspool.go).
	spooled spooledResponse
	// auths are a fleet run's authorizers, compact (fleetcompact.go);
	// Authorizers are a decoded event's. responses is the spool their
	// responses were set aside in.
	auths     []authResult
	responses *spool
	// appids are the fleet run's authorizers, auths[i] being appids[i]'s
	// outcome, and names their names where known (incidents.go).
	appids []string
	names  map[string]string
}

// ErrorInfo is a failed operation's "error" object.
type ErrorInfo struct {
	Kind       string `json:"kind"`
	ErrCode    int    `json:"errcode,omitempty"`
	ErrMsg     string `json:"errmsg,omitempty"`
	RID        string `json:"rid,omitempty"`
	Retryable  bool   `json:"retryable"`
	Message    string `json:"message"`
	HTTPStatus int    `json:"http_status,omitempty"`
	// InhibitedBy is the key of the platform-level failure that caused
	// this authorizer's failure: it is not a change of its own and is not
	// sent (docs/alerts.md#incidents-not-lines).
	InhibitedBy string `json:"inhibited_by,omitempty"`

	op string // the call that failed (wechat.Error.Op)
}

// Alert and Change are the event's "alerts" and "changes" entries, as
// package alerts defines them.
type (
	Alert  = alerts.Alert
	Change = alerts.Change
)

// Notification is one robot channel's outcome.
type Notification struct {
	Channel string `json:"channel"`
	Status  string `json:"status"`
	Error   string `json:"error,omitempty"`
	// Owed is how many changes stay owed to the robot, for a later
	// message (docs/reliability.md#delivered-at-least-once).
	Owed int `json:"owed,omitempty"`
	// Authorizers are the appids whose own robot this is
	// (docs/silences-and-robots.md#owner-robots); absent for a platform
	// robot.
	Authorizers []string `json:"authorizers,omitempty"`
}

// TimeFormat is the layout of the event's "time": RFC 3339 in UTC with
// milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// AppendJSON appends the event as JSON to b. WeChat's answers are copied
// in as received, never re-encoded.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"source":"`+EventSource+`","platform":`...)
	b = jsonw.AppendString(b, e.Platform)
	b = append(b, `,"trigger":`...)
	b = jsonw.AppendString(b, e.Trigger)
	b = append(b, `,"request_id":`...)
	b = jsonw.AppendString(b, e.RequestID)
	b = append(b, `,"time":"`...)
	b = appendTime(b, e.Time.UTC(), true)
	b = append(b, `","ok":`...)
	b = strconv.AppendBool(b, e.OK)
	if e.Compact {
		b = append(b, `,"compact":true`...)
	}
	b = append(b, `,"results":`...)
	b = appendResults(b, e.Results, false, e.Compact, e.sink)
	b = append(b, `,"alerts":`...)
	b = appendList(b, e.Alerts, true)
	if e.Changes != nil {
		b = append(b, `,"changes":`...)
		b = appendList(b, e.Changes, true)
	}
	if e.Incidents != nil {
		b = append(b, `,"incidents":`...)
		b = appendList(b, e.Incidents, true)
	}
	if e.PlatformFailures != nil {
		b = append(b, `,"platform_failures":`...)
		b = appendList(b, e.PlatformFailures, true)
	}
	if e.Notifications != nil {
		b = append(b, `,"notifications":`...)
		b = appendList(b, e.Notifications, true)
	}
	if e.Planned != nil {
		b = append(b, `,"planned":`...)
		pb, _ := json.Marshal(e.Planned)
		b = append(b, pb...)
	}
	return append(b, '}')
}

// appendResults writes results as an object keyed by operation (or, in a
// fleet, by authorizer). With a sink, what is written so far goes to it
// as a fleet's authorizers are written.
func appendResults(b []byte, rs []Result, byAuthorizer, compact bool, sink *spool) []byte {
	b = append(b, '{')
	for i := range rs {
		if i > 0 {
			b = append(b, ',')
			b = flushTo(sink, b)
		}
		b = appendResult(b, &rs[i], byAuthorizer, compact, sink)
	}
	return append(b, '}')
}

// appendAuths writes a fleet run's compact authorizers as appendResults
// writes Results.
func appendAuths(b []byte, r *Result, compact bool, sink *spool) []byte {
	b = append(b, '{')
	// One Result serves every authorizer: appendResult's pointer escapes
	// (it is recursive), and one per authorizer would be 10,000 of them.
	x := new(Result)
	for i := range r.auths {
		if i > 0 {
			b = append(b, ',')
			b = flushTo(sink, b)
		}
		id := r.appids[i]
		*x = r.auths[i].result(r.Operation, id, r.names[id], r.responses)
		b = appendResult(b, x, true, compact, sink)
	}
	return append(b, '}')
}

// appendResult writes one result, keyed by its operation or authorizer.
func appendResult(b []byte, r *Result, byAuthorizer, compact bool, sink *spool) []byte {
	if byAuthorizer {
		b = jsonw.AppendString(b, r.Authorizer)
	} else {
		b = jsonw.AppendString(b, r.Operation)
	}
	b = append(b, ':', '{')
	if r.Name != "" {
		b = append(b, `"name":`...)
		b = jsonw.AppendString(b, r.Name)
		b = append(b, ',')
	}
	b = append(b, `"ok":`...)
	b = strconv.AppendBool(b, r.OK)
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(r.Attempts), 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, Millis(r.Duration), 'f', -1, 64)
	if r.Fleet {
		b = append(b, `,"total":`...)
		b = strconv.AppendInt(b, int64(r.Total), 10)
		b = append(b, `,"failed":`...)
		b = strconv.AppendInt(b, int64(r.Failed), 10)
		b = append(b, `,"authorizers":`...)
		if r.auths != nil {
			b = appendAuths(b, r, compact, sink)
		} else {
			b = appendResults(b, r.Authorizers, true, compact, sink)
		}
	} else if r.OK && compact {
		b = append(b, `,"items":`...)
		b = strconv.AppendInt(b, int64(r.Items), 10)
	} else if r.OK {
		b = append(b, `,"response":`...)
		b = r.appendResponse(b)
	}
	if r.Error != nil {
		b = append(b, `,"error":`...)
		eb, _ := json.Marshal(r.Error)
		b = append(b, eb...)
	}
	return append(b, '}')
}

// appendList writes a slice as a JSON array; nil as [] when empty is true.
func appendList[T any](b []byte, list []T, empty bool) []byte {
	if len(list) == 0 && empty {
		return append(b, "[]"...)
	}
	lb, _ := json.Marshal(list)
	return append(b, lb...)
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (e *Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

// UnmarshalJSON implements json.Unmarshaler: it reads what AppendJSON
// writes, keeping the order of results.
func (e *Event) UnmarshalJSON(data []byte) error {
	type plain Event
	var w struct {
		plain
		Results json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*e = Event(w.plain)
	rs, err := decodeResults(w.Results, false)
	e.Results = rs
	return err
}

// decodeResults reads an object of results in its order.
func decodeResults(data json.RawMessage, byAuthorizer bool) ([]Result, error) {
	if len(data) == 0 || string(data) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("invoke: results: want an object")
	}
	var out []Result
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		var w struct {
			Result
			DurationMS  float64         `json:"duration_ms"`
			Authorizers json.RawMessage `json:"authorizers"`
		}
		if err := dec.Decode(&w); err != nil {
			return nil, err
		}
		r := w.Result
		r.Duration = time.Duration(w.DurationMS * float64(time.Millisecond))
		if byAuthorizer {
			r.Authorizer = key
		} else {
			r.Operation = key
		}
		if w.Authorizers != nil {
			r.Fleet = true
			if r.Authorizers, err = decodeResults(w.Authorizers, true); err != nil {
				return nil, err
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// Millis returns d in milliseconds rounded to a tenth.
func Millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*10) / 10
}
