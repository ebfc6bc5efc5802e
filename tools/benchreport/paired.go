package main

import (
	"fmt"
	"io"
	"slices"
)

// pairedFigure is one line of the headline table: a ratio that the
// benchmark computed within each run (test/bench/paired_test.go runs the
// baseline and wxcloudenv alternately in one loop), or, for a binary's
// size, the ratio of the two sizes.
type pairedFigure struct {
	title  string
	bench  string
	unit   string  // metrics baseline-<unit>, wxcloudenv-<unit>, ratio-<unit>
	target float64 // largest ratio allowed (0: reported only)
	// growth: the ratio is wxcloudenv-growth and the baseline's own
	// growth is shown beside it (unit names the 10,000 figures).
	growth bool
	// sizes: BenchmarkBinarySize's sub-benchmarks (subject over baseline).
	sizes string
}

var pairedFigures = []pairedFigure{
	{title: "cold start, exec to first answer", bench: "BenchmarkPairedColdStart", unit: "ns", target: 1.15},
	{title: "  CPU time (user+system)", bench: "BenchmarkPairedColdStart", unit: "cpu-ns"},
	{title: "  minor page faults", bench: "BenchmarkPairedColdStart", unit: "faults"},
	{title: "  peak RSS", bench: "BenchmarkPairedColdStart", unit: "peak-RSS-B"},
	{title: "binary size, linux/arm64 (Lambda)", bench: "BenchmarkBinarySize", sizes: "wxcloudenv", target: 1.5},
	{title: "  SCF binary, linux/arm64", bench: "BenchmarkBinarySize", sizes: "wxcloudenv-scf"},
	{title: "warm invocation, built, Runtime API", bench: "BenchmarkPairedWarmBinary", unit: "ns", target: 1.10},
	{title: "  CPU time per invocation", bench: "BenchmarkPairedWarmBinary", unit: "cpu-ns"},
	{title: "  in process (the core alone)", bench: "BenchmarkPairedWarm", unit: "ns"},
	{title: "  allocations in process", bench: "BenchmarkPairedWarm", unit: "allocs"},
	{title: "fleet: peak RSS growth 1k → 10k", bench: "BenchmarkPairedFleetRSS", unit: "10k-peak-RSS-B", target: 1.5, growth: true},
	{title: "  peak RSS at 10,000, two runs", bench: "BenchmarkPairedFleetRSS", unit: "10k-peak-RSS-B"},
	{title: "  peak RSS at 1,000, two runs", bench: "BenchmarkPairedFleetRSS", unit: "1k-peak-RSS-B"},
}

// unitOf is how format prints a paired metric's values.
func unitOf(unit string) string {
	switch unit {
	case "ns", "cpu-ns":
		return "ns/op"
	case "faults", "allocs":
		return ""
	}
	return "B"
}

// reportPaired prints the headline table and returns how many of its
// targets were missed and how many figures were not run.
func reportPaired(w io.Writer, data map[string]map[string][]float64) (missed, notRun int) {
	fmt.Fprintf(w, "%-38s %11s %11s %8s %15s %7s %9s\n", "the four figures (paired)", "baseline", "wxcloudenv", "ratio", "spread", "target", "runs met")
	for _, f := range pairedFigures {
		var base, subj, ratios []float64
		var baseText string
		switch {
		case f.sizes != "":
			base = data[f.bench+"/baseline"]["binary-B"]
			subj = data[f.bench+"/"+f.sizes]["binary-B"]
			for i := range min(len(base), len(subj)) {
				if base[i] > 0 {
					ratios = append(ratios, subj[i]/base[i])
				}
			}
		case f.growth:
			ratios = data[f.bench]["wxcloudenv-growth"]
			if g, ok := median(data[f.bench]["baseline-growth"]); ok {
				baseText = fmt.Sprintf("%.2f×", g)
			}
		default:
			base = data[f.bench]["baseline-"+f.unit]
			subj = data[f.bench]["wxcloudenv-"+f.unit]
			ratios = data[f.bench]["ratio-"+f.unit]
		}
		r, ok := median(ratios)
		if !ok {
			fmt.Fprintf(w, "%-38s %11s %11s\n", f.title, "", "not run")
			notRun++
			continue
		}
		unit := unitOf(f.unit)
		if f.sizes != "" {
			unit = "binary-B"
		}
		bv, subjText := "", ""
		if v, ok := median(base); ok {
			bv = format(v, unit)
		}
		if baseText != "" {
			bv = baseText
		}
		if v, ok := median(subj); ok {
			subjText = format(v, unit)
		}
		ratioText := fmt.Sprintf("%.3f×", r)
		if f.growth {
			subjText, ratioText = fmt.Sprintf("%.2f×", r), ""
		}
		spread := fmt.Sprintf("%.3f–%.3f", slices.Min(ratios), slices.Max(ratios))
		target, runs, verdict := "", "", ""
		if f.target > 0 {
			target = fmt.Sprintf("≤%.2f×", f.target)
			n := 0
			for _, x := range ratios {
				if x <= f.target {
					n++
				}
			}
			runs = fmt.Sprintf("%d of %d", n, len(ratios))
			verdict = "met"
			if r > f.target {
				verdict, missed = "MISSED", missed+1
			}
		}
		fmt.Fprintf(w, "%-38s %11s %11s %8s %15s %7s %9s  %s\n", f.title, bv, subjText, ratioText, spread, target, runs, verdict)
	}
	return missed, notRun
}

// roundTripsBefore is what BenchmarkStoreRoundTrips counted on 899c5a7,
// the last commit before incident names, grouping, silences, run history
// and the new warnings: together they may add at most one store round
// trip to a fleet run, and none to a warm invocation.
var roundTripsBefore = []struct {
	title, metric string
	was           float64
	allowed       float64
}{
	{"store round trips, warm invocation", "warm-store-ops", 0, 0},
	{"store round trips, first fleet run (600)", "fleet-first-run-store-ops", 4211, 1},
	{"store round trips, second fleet run (600)", "fleet-second-run-store-ops", 4, 1},
}

// reportRoundTrips prints the store round trips against 899c5a7's.
func reportRoundTrips(w io.Writer, data map[string]map[string][]float64) (missed, notRun int) {
	fmt.Fprintf(w, "\n%-42s %10s %10s %10s\n", "store round trips (new work's cost)", "899c5a7", "now", "allowed")
	for _, f := range roundTripsBefore {
		v, ok := median(data["BenchmarkStoreRoundTrips"][f.metric])
		if !ok {
			fmt.Fprintf(w, "%-42s %10s %10s\n", f.title, "", "not run")
			notRun++
			continue
		}
		verdict := "met"
		if v > f.was+f.allowed {
			verdict, missed = "MISSED", missed+1
		}
		fmt.Fprintf(w, "%-42s %10.0f %10.0f %10s  %s\n", f.title, f.was, v, fmt.Sprintf("≤%.0f", f.was+f.allowed), verdict)
	}
	return missed, notRun
}
