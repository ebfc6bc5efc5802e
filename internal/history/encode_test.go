package history

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// TestMarshalRun: a run is written as json.Marshal writes it.
func TestMarshalRun(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 6, 14, 0, 0, 123_456_789, time.UTC)
	for _, r := range []Run{
		{},
		{Time: now, Kind: KindSingle, Trigger: "direct", OK: true, Operations: 2, DurationMS: 3},
		{Time: now.In(time.FixedZone("x", 8*3600)), Kind: KindShard, Part: "3/8", Trigger: "schedule", Operations: 1, FailedOperations: 1,
			Authorizers: 10000, FailedAuthorizers: 37, Alerts: 5, Changes: 2, DurationMS: -1, Failure: "getenvinfo: upstream, x: <&> \"q\" \xff 中", Runs: 9},
		{Time: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		checkRun(t, r)
	}
}

func checkRun(t *testing.T, r Run) {
	t.Helper()
	got, err := marshalRun(r)
	want, werr := json.Marshal(r)
	if (err == nil) != (werr == nil) || string(got) != string(want) {
		t.Fatalf("marshalRun(%+v) = %s, %v; json.Marshal: %s, %v", r, got, err, want, werr)
	}
}

// TestMarshalRunCoversEveryField: with every field of Run set (found by
// reflection, so a field added later is included), marshalRun writes what
// json.Marshal writes.
func TestMarshalRunCoversEveryField(t *testing.T) {
	t.Parallel()
	var r Run
	v := reflect.ValueOf(&r).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.String:
			f.SetString("s" + strconv.Itoa(i))
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(i + 1))
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Struct:
			if f.Type() != reflect.TypeFor[time.Time]() {
				t.Fatalf("field %s: a type marshalRun does not write", v.Type().Field(i).Name)
			}
			f.Set(reflect.ValueOf(time.Date(2026, 12, 6, 14, 0, 0, 1, time.UTC)))
		default:
			t.Fatalf("field %s: a type marshalRun does not write", v.Type().Field(i).Name)
		}
	}
	checkRun(t, r)
}

// FuzzMarshalRun is TestMarshalRun on any values.
func FuzzMarshalRun(f *testing.F) {
	f.Add(int64(1765029600123456789), "single", "direct", "", "getenvinfo: upstream", true, 2, 0, 0, int64(3))
	f.Add(int64(-1), "k\x00", "<t>", "\xff", "\u2028", false, -1, 1<<40, 7, int64(-9))
	f.Fuzz(func(t *testing.T, ns int64, kind, trigger, part, failure string, ok bool, ops, failed, auth int, dur int64) {
		checkRun(t, Run{Time: time.Unix(0, ns).UTC(), Kind: Kind(kind), Trigger: trigger, Part: part, OK: ok, Operations: ops,
			FailedOperations: failed, Authorizers: auth, FailedAuthorizers: failed, Alerts: auth, Changes: ops, DurationMS: dur, Failure: failure, Runs: failed})
	})
}
