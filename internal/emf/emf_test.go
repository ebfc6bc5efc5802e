package emf_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/emf"
)

// logLine writes one slog JSON line with the EMF attributes, as the
// function's logger does.
func logLine(t *testing.T, fn string, now time.Time, m emf.Metrics) []byte {
	t.Helper()
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.LogAttrs(t.Context(), slog.LevelInfo, "invocation", append(emf.Attrs(fn, now, m), slog.String("request_id", "r-1"))...)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAttrs(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 8, 0, 0, 123_000_000, time.UTC)
	tests := []struct {
		name    string
		fn      string
		m       emf.Metrics
		wantDim string
	}{
		{name: "lambda", fn: "wxcloudenv-prod", m: emf.Metrics{Alerts: 2, FailedOperations: 1, Authorizers: 10000, FailedAuthorizers: 37, DroppedNotifications: 4, SilencedChanges: 9}, wantDim: "wxcloudenv-prod"},
		{name: "local", fn: "", m: emf.Metrics{}, wantDim: "local"},
		{name: "spaces", fn: "   ", wantDim: "local"},
		{name: "non-ASCII and control characters, one _ per rune", fn: "函数\nx", wantDim: "___x"},
		{name: "too long", fn: strings.Repeat("f", 2000), wantDim: strings.Repeat("f", 1024)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			line := logLine(t, tt.fn, now, tt.m)
			if err := emf.Validate(line); err != nil {
				t.Fatalf("Validate(%s) = %v", line, err)
			}
			var got struct {
				AWS struct {
					Timestamp         int64
					CloudWatchMetrics []struct {
						Namespace  string
						Dimensions [][]string
						Metrics    []struct{ Name, Unit string }
					}
				} `json:"_aws"`
				FunctionName                                             string
				Alerts, FailedOperations, Authorizers, FailedAuthorizers int
				DroppedNotifications, SilencedChanges                    int
			}
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatal(err)
			}
			if got.AWS.Timestamp != now.UnixMilli() {
				t.Errorf("Timestamp = %d, want %d", got.AWS.Timestamp, now.UnixMilli())
			}
			if len(got.AWS.CloudWatchMetrics) != 1 {
				t.Fatalf("%d directives, want 1", len(got.AWS.CloudWatchMetrics))
			}
			d := got.AWS.CloudWatchMetrics[0]
			if d.Namespace != "wxcloudenv" {
				t.Errorf("Namespace = %q, want wxcloudenv", d.Namespace)
			}
			if len(d.Dimensions) != 1 || len(d.Dimensions[0]) != 1 || d.Dimensions[0][0] != "FunctionName" {
				t.Errorf("Dimensions = %q, want [[FunctionName]]", d.Dimensions)
			}
			var names []string
			for _, m := range d.Metrics {
				if m.Unit != "Count" {
					t.Errorf("metric %s unit %q, want Count", m.Name, m.Unit)
				}
				names = append(names, m.Name)
			}
			if strings.Join(names, ",") != "Alerts,FailedOperations,Authorizers,FailedAuthorizers,DroppedNotifications,SilencedChanges" {
				t.Errorf("metrics = %q", names)
			}
			if got.FunctionName != tt.wantDim {
				t.Errorf("FunctionName = %q, want %q", got.FunctionName, tt.wantDim)
			}
			if got.Alerts != tt.m.Alerts || got.FailedOperations != tt.m.FailedOperations || got.Authorizers != tt.m.Authorizers || got.FailedAuthorizers != tt.m.FailedAuthorizers ||
				got.DroppedNotifications != tt.m.DroppedNotifications || got.SilencedChanges != tt.m.SilencedChanges {
				t.Errorf("values = %d %d %d %d %d, want %+v", got.Alerts, got.FailedOperations, got.Authorizers, got.FailedAuthorizers, got.DroppedNotifications, tt.m)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	good := func(mutate func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal(logLine(t, "f", time.Unix(1763798400, 0), emf.Metrics{Alerts: 1}), &m); err != nil {
			t.Fatal(err)
		}
		if mutate != nil {
			mutate(m)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	directive := func(m map[string]any) map[string]any {
		return m["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
	}
	tests := []struct {
		name    string
		line    string
		wantErr string // "" means valid
	}{
		{name: "ours", line: good(nil)},
		{name: "empty dimension set list", line: good(func(m map[string]any) { directive(m)["Dimensions"] = []any{} })},
		{name: "no dimensions key", line: good(func(m map[string]any) { delete(directive(m), "Dimensions") }), wantErr: "no Dimensions array"},
		{name: "not JSON", line: "invocation Alerts=1", wantErr: "not a JSON object"},
		{name: "two objects", line: good(nil) + good(nil), wantErr: "data after the JSON object"},
		{name: "no _aws", line: good(func(m map[string]any) { delete(m, "_aws") }), wantErr: "no _aws member"},
		{name: "timestamp string", line: good(func(m map[string]any) { m["_aws"].(map[string]any)["Timestamp"] = "1763798400000" }), wantErr: "Timestamp is not"},
		{name: "timestamp fraction", line: good(func(m map[string]any) { m["_aws"].(map[string]any)["Timestamp"] = 1.5 }), wantErr: "Timestamp is not"},
		{name: "timestamp missing", line: good(func(m map[string]any) { delete(m["_aws"].(map[string]any), "Timestamp") }), wantErr: "Timestamp is not"},
		{name: "no directives", line: good(func(m map[string]any) { m["_aws"].(map[string]any)["CloudWatchMetrics"] = []any{} }), wantErr: "CloudWatchMetrics is missing or empty"},
		{name: "unknown member in _aws", line: good(func(m map[string]any) { m["_aws"].(map[string]any)["Extra"] = 1 }), wantErr: "unknown field"},
		{name: "no namespace", line: good(func(m map[string]any) { delete(directive(m), "Namespace") }), wantErr: "Namespace must be"},
		{name: "dimension value missing", line: good(func(m map[string]any) { delete(m, "FunctionName") }), wantErr: `dimension "FunctionName" is not a top-level string`},
		{name: "dimension value a number", line: good(func(m map[string]any) { m["FunctionName"] = 3 }), wantErr: "is not a top-level string"},
		{name: "dimension value empty", line: good(func(m map[string]any) { m["FunctionName"] = "" }), wantErr: "invalid value"},
		{name: "dimension value non-ASCII", line: good(func(m map[string]any) { m["FunctionName"] = "函数" }), wantErr: "invalid value"},
		{name: "metric value missing", line: good(func(m map[string]any) { delete(m, "Authorizers") }), wantErr: `metric "Authorizers": no top-level member`},
		{name: "metric value a string", line: good(func(m map[string]any) { m["Alerts"] = "1" }), wantErr: "not a number"},
		{name: "metric value null", line: good(func(m map[string]any) { m["Alerts"] = nil }), wantErr: "not a number"},
		{name: "metric values array", line: good(func(m map[string]any) { m["Alerts"] = []any{1, 2.5} })},
		{name: "metric values array with a string", line: good(func(m map[string]any) { m["Alerts"] = []any{1, "2"} }), wantErr: "not a number"},
		{name: "bad unit", line: good(func(m map[string]any) { directive(m)["Metrics"].([]any)[0].(map[string]any)["Unit"] = "Things" }), wantErr: "not a CloudWatch unit"},
		{name: "bad resolution", line: good(func(m map[string]any) { directive(m)["Metrics"].([]any)[0].(map[string]any)["StorageResolution"] = 5 }), wantErr: "StorageResolution 5"},
		{name: "duplicate metric", line: good(func(m map[string]any) {
			d := directive(m)
			d["Metrics"] = append(d["Metrics"].([]any), d["Metrics"].([]any)[0])
		}), wantErr: "defined twice"},
	}
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		base := filepath.Base(f)
		tc := struct {
			name    string
			line    string
			wantErr string
		}{name: base, line: strings.TrimSpace(string(b))}
		switch {
		case strings.HasPrefix(base, "invalid-31-dimensions"):
			tc.wantErr = "31 dimensions, over 30"
		case strings.HasPrefix(base, "invalid-101-metrics"):
			tc.wantErr = "101 metrics, want 1–100"
		case !strings.HasPrefix(base, "valid-"):
			t.Fatalf("testdata file %s is neither valid- nor a known invalid- case", base)
		}
		tests = append(tests, tc)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := emf.Validate([]byte(tt.line))
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Validate = %v, want valid", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func FuzzValidate(f *testing.F) {
	f.Add([]byte(`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["D"]],"Metrics":[{"Name":"M"}]}]},"D":"v","M":1}`))
	f.Add([]byte(`{"_aws":null}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		_ = emf.Validate(line) // must not panic
	})
}

func BenchmarkAttrs(b *testing.B) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		logger.LogAttrs(b.Context(), slog.LevelInfo, "invocation", emf.Attrs("wxcloudenv-prod", now, emf.Metrics{Alerts: 3, Authorizers: 10000, FailedAuthorizers: 12})...)
	}
}
