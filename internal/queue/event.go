package queue

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Delivery sources.
const (
	SourceSQS = "sqs"       // an SQS event from Lambda's event source mapping
	SourceSCF = "scf-async" // SCF's asynchronous invocation with a batch
)

// Item is one delivered batch: its id (an SQS message id) and body.
type Item struct {
	ID   string
	Body []byte
}

// Delivery is the batches one invocation was handed.
type Delivery struct {
	Source  string
	Records []Item
}

// Detect recognises a worker's invocation: an SQS event (Records of
// eventSource aws:sqs) or a batch itself, which is what SCF delivers for an
// asynchronous Invoke whose ClientContext is the batch. Anything else is
// left to the trigger parser.
func Detect(raw []byte) (Delivery, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return Delivery{}, false
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return Delivery{}, false
	}
	if recs, ok := top["Records"]; ok && len(top) == 1 {
		var ev events.SQSEvent
		if json.Unmarshal(raw, &ev) != nil || len(ev.Records) == 0 {
			return Delivery{}, false
		}
		d := Delivery{Source: SourceSQS}
		for _, r := range ev.Records {
			if r.EventSource != "aws:sqs" {
				return Delivery{}, false
			}
			d.Records = append(d.Records, Item{ID: r.MessageId, Body: []byte(r.Body)})
		}
		_ = recs
		return d, true
	}
	_, run := top["run"]
	_, batch := top["batch"]
	_, ids := top["authorizers"]
	if run && batch && ids && len(top) == 3 {
		return Delivery{Source: SourceSCF, Records: []Item{{Body: raw}}}, true
	}
	return Delivery{}, false
}

// Answer is what a worker answers: on SQS the event source mapping's
// partial batch response (the ids of the batches that must come back).
func Answer(d Delivery, failed []string) []byte {
	if d.Source == SourceSQS {
		resp := events.SQSEventResponse{BatchItemFailures: make([]events.SQSBatchItemFailure, 0, len(failed))}
		for _, id := range failed {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
		}
		b, _ := json.Marshal(resp)
		return b
	}
	b, _ := json.Marshal(map[string]any{"worked": len(d.Records) - len(failed), "failed": len(failed)})
	return b
}

// Tick returns a schedule's tick: EventBridge's "time" or SCF's timer
// "Time". ok is false when the event carries none.
func Tick(raw []byte) (time.Time, bool) {
	var ev struct {
		Time  string `json:"time"`
		TimeT string `json:"Time"`
	}
	if json.Unmarshal(raw, &ev) != nil {
		return time.Time{}, false
	}
	for _, s := range []string{ev.Time, ev.TimeT} {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
