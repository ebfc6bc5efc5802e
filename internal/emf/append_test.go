package emf_test

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/emf"
)

// TestAppendJSON: AppendJSON writes what Attrs makes slog's JSON handler
// write, member for member.
func TestAppendJSON(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 8, 0, 0, 123_456_789, time.UTC)
	tests := []struct {
		name string
		fn   string
		m    emf.Metrics
	}{
		{name: "zero", fn: ""},
		{name: "counts", fn: "wxcloudenv-prod", m: emf.Metrics{Alerts: 2, FailedOperations: 1, Authorizers: 10000, FailedAuthorizers: 37, DroppedNotifications: 4, SilencedChanges: 9}},
		{name: "quotes and backslashes", fn: `a"b\c`},
		{name: "control and non-ASCII", fn: "函数\nx\x00\xff"},
		{name: "too long", fn: strings.Repeat("f", 2000)},
		{name: "warnings", fn: "f", m: emf.Metrics{VerifyTicketAgeSeconds: emf.Value(1234.5), QuotaRemainingPercent: emf.Value(0.0000001)}},
		{name: "one warning", fn: "f", m: emf.Metrics{QuotaRemainingPercent: emf.Value(1e22)}},
		{name: "age only", fn: "f", m: emf.Metrics{VerifyTicketAgeSeconds: emf.Value(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := logLine(t, tt.fn, now, tt.m)
			line := append([]byte(`{"time":"x","level":"INFO","msg":"invocation",`), emf.AppendJSON(nil, tt.fn, now, tt.m)...)
			line = append(line, `,"request_id":"r-1"}`...)
			if err := emf.Validate(line); err != nil {
				t.Fatalf("Validate(%s) = %v", line, err)
			}
			var g, w map[string]any
			if err := json.Unmarshal(line, &g); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			if err := json.Unmarshal(want, &w); err != nil {
				t.Fatal(err)
			}
			delete(g, "time")
			delete(w, "time")
			if !reflect.DeepEqual(g, w) {
				t.Errorf("AppendJSON:\n got %s\nwant %s", line, want)
			}
		})
	}
}

// TestAppendFloat: floats as encoding/json writes them.
func TestAppendFloat(t *testing.T) {
	t.Parallel()
	for _, f := range []float64{0, 1, -1, 0.1, 12.3, 1e-6, 1e-7, 9.99e-7, 1e20, 1e21, 1.5e300, -2.5e-9, math.SmallestNonzeroFloat64, math.MaxFloat64} {
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := emf.AppendFloat(nil, f); string(got) != string(want) {
			t.Errorf("AppendFloat(%v) = %s, want %s", f, got, want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := emf.AppendFloat(nil, f); string(got) != "null" {
			t.Errorf("AppendFloat(%v) = %s, want null", f, got)
		}
	}
}
