package invoke

import (
	"testing"
	"time"
)

// TestAppendTime: appendTime writes what AppendFormat writes, in UTC, in
// other zones and out of RFC 3339's years.
func TestAppendTime(t *testing.T) {
	t.Parallel()
	zones := []*time.Location{time.UTC, time.FixedZone("east", 8*3600), time.FixedZone("zero", 0), time.FixedZone("west", -(3*3600 + 1800))}
	for _, tm := range []time.Time{
		time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 6, 14, 0, 0, 123_000_000, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 100, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 120_000_000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, 0),
		time.Now(),
	} {
		for _, z := range zones {
			checkTime(t, tm.In(z))
		}
		checkTime(t, tm.Local())
	}
}

func checkTime(t *testing.T, tm time.Time) {
	t.Helper()
	if got, want := string(appendTime(nil, tm, true)), tm.AppendFormat(nil, TimeFormat); got != string(want) {
		t.Errorf("appendTime(%v, millis) = %s, want %s", tm, got, want)
	}
	if got, want := string(appendTime(nil, tm, false)), tm.AppendFormat(nil, time.RFC3339Nano); got != string(want) {
		t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
	}
}

// FuzzAppendTime is TestAppendTime on any instant and offset.
func FuzzAppendTime(f *testing.F) {
	f.Add(int64(1765029600123456789), 0)
	f.Add(int64(-62135596800000000), 3600)
	f.Fuzz(func(t *testing.T, ns int64, off int) {
		tm := time.Unix(0, ns).UTC()
		checkTime(t, tm)
		checkTime(t, tm.In(time.FixedZone("z", off%(24*3600))))
	})
}
