package main

import (
	"bytes"
	"strings"
	"testing"
)

// pairedRuns is three runs of the paired benchmarks: cold start meets its
// target in two runs of three, the fleet's growth in none.
const pairedRuns = `
BenchmarkPairedColdStart-2   20  1 ns/op  3000000 baseline-ns  1.10 ratio-ns  3300000 wxcloudenv-ns
BenchmarkPairedColdStart-2   20  1 ns/op  3000000 baseline-ns  1.20 ratio-ns  3600000 wxcloudenv-ns
BenchmarkPairedColdStart-2   20  1 ns/op  3000000 baseline-ns  1.12 ratio-ns  3360000 wxcloudenv-ns
BenchmarkPairedFleetRSS-2     1  1 ns/op  2.6 baseline-growth  4.1 wxcloudenv-growth
BenchmarkPairedFleetRSS-2     1  1 ns/op  2.6 baseline-growth  4.0 wxcloudenv-growth
BenchmarkPairedFleetRSS-2     1  1 ns/op  2.6 baseline-growth  4.2 wxcloudenv-growth
BenchmarkBinarySize/baseline-2  1  1 ns/op  1000 binary-B
BenchmarkBinarySize/wxcloudenv-2  1  1 ns/op  1400 binary-B
`

func TestReportPaired(t *testing.T) {
	data, err := parse(strings.NewReader(pairedRuns))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	missed, notRun := reportPaired(&out, data)
	if missed != 1 {
		t.Errorf("missed = %d, want 1 (the fleet's growth)\n%s", missed, out.String())
	}
	if want := len(pairedFigures) - 1 - 1 - 1; notRun != want {
		t.Errorf("not run = %d, want %d\n%s", notRun, want, out.String())
	}
	for _, want := range []string{
		"1.120×", "1.100–1.200", "2 of 3", // cold start: median, spread, runs met
		"2.60×", "4.10×", "0 of 3", "MISSED", // the fleet
		"1.400×", "1 of 1", // size
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
