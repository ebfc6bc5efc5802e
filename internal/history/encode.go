package history

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/jsonw"
)

// marshalRun is json.Marshal(run), byte for byte, written by hand: the
// first run of an instance is recorded on its cold start, where building
// encoding/json's encoder for Run by reflection cost about 0.1 ms.
// TestMarshalRunCoversEveryField fails when a field of Run is left out.
func marshalRun(r Run) ([]byte, error) {
	if y := r.Time.Year(); y < 0 || y >= 10000 {
		return json.Marshal(r) // its error
	}
	b := make([]byte, 0, 192+len(r.Failure))
	b = append(b, `{"time":"`...)
	b = r.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","kind":`...)
	b = jsonw.AppendString(b, string(r.Kind))
	if r.Trigger != "" {
		b = append(b, `,"trigger":`...)
		b = jsonw.AppendString(b, r.Trigger)
	}
	if r.Part != "" {
		b = append(b, `,"part":`...)
		b = jsonw.AppendString(b, r.Part)
	}
	b = append(b, `,"ok":`...)
	b = strconv.AppendBool(b, r.OK)
	b = append(b, `,"operations":`...)
	b = strconv.AppendInt(b, int64(r.Operations), 10)
	b = appendOmitZero(b, `,"failed_operations":`, r.FailedOperations)
	b = appendOmitZero(b, `,"authorizers":`, r.Authorizers)
	b = appendOmitZero(b, `,"failed_authorizers":`, r.FailedAuthorizers)
	b = append(b, `,"alerts":`...)
	b = strconv.AppendInt(b, int64(r.Alerts), 10)
	b = appendOmitZero(b, `,"changes":`, r.Changes)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendInt(b, r.DurationMS, 10)
	if r.Failure != "" {
		b = append(b, `,"failure":`...)
		b = jsonw.AppendString(b, r.Failure)
	}
	b = appendOmitZero(b, `,"runs":`, r.Runs)
	return append(b, '}'), nil
}

func appendOmitZero(b []byte, key string, n int) []byte {
	if n == 0 {
		return b
	}
	b = append(b, key...)
	return strconv.AppendInt(b, int64(n), 10)
}
