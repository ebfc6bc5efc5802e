package invoke

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// EventSource is the output event's "source".
const EventSource = "wxcloudenv"

// Event is the output event of one invocation (SPEC.md §6).
type Event struct {
	Platform  string
	Trigger   string
	RequestID string
	Time      time.Time
	OK        bool
	Results   []Result // in the order the operations were asked for
	Alerts    []Alert
}

// Result is the outcome of one operation.
type Result struct {
	Operation string
	OK        bool
	Attempts  int
	Duration  time.Duration
	// Response is WeChat's answer as received; set only on success.
	Response json.RawMessage
	// Error is set only on failure.
	Error *ErrorInfo
	// Items counts the environments in the answer.
	Items int

	alerts []Alert
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
}

// Alert is a resource whose status needs attention.
type Alert struct {
	Operation string `json:"operation"`
	Env       string `json:"env"`
	Resource  string `json:"resource"`
	Status    string `json:"status"`
	Message   string `json:"message"`
}

// TimeFormat is the layout of the event's "time": RFC 3339 in UTC with
// milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// AppendJSON appends the event as JSON to b. WeChat's answers are copied
// in as received, never re-encoded.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"source":"`+EventSource+`","platform":`...)
	b = appendString(b, e.Platform)
	b = append(b, `,"trigger":`...)
	b = appendString(b, e.Trigger)
	b = append(b, `,"request_id":`...)
	b = appendString(b, e.RequestID)
	b = append(b, `,"time":"`...)
	b = e.Time.UTC().AppendFormat(b, TimeFormat)
	b = append(b, `","ok":`...)
	b = strconv.AppendBool(b, e.OK)
	b = append(b, `,"results":{`...)
	for i := range e.Results {
		r := &e.Results[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, r.Operation)
		b = append(b, `:{"ok":`...)
		b = strconv.AppendBool(b, r.OK)
		b = append(b, `,"attempts":`...)
		b = strconv.AppendInt(b, int64(r.Attempts), 10)
		b = append(b, `,"duration_ms":`...)
		b = strconv.AppendFloat(b, Millis(r.Duration), 'f', -1, 64)
		if r.OK {
			b = append(b, `,"response":`...)
			b = append(b, r.Response...)
		}
		if r.Error != nil {
			b = append(b, `,"error":`...)
			eb, _ := json.Marshal(r.Error)
			b = append(b, eb...)
		}
		b = append(b, '}')
	}
	b = append(b, `},"alerts":`...)
	if len(e.Alerts) == 0 {
		b = append(b, "[]"...)
	} else {
		ab, _ := json.Marshal(e.Alerts)
		b = append(b, ab...)
	}
	return append(b, '}')
}

// Millis returns d in milliseconds rounded to a tenth.
func Millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*10) / 10
}

func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
