package main

import (
	"fmt"
	"io"
)

// How a fleet figure is judged.
const (
	// pair: wxcloudenv over the baseline in one benchmark, at most target.
	pair = iota
	// growth: each side's value in bench over the same side's in small;
	// wxcloudenv's at most target, the baseline's shown beside it.
	growth
	// below: wxcloudenv's own value, under target.
	below
	// exactly: wxcloudenv's own value, equal to target.
	exactly
	// reported: wxcloudenv's own value, shown without a target.
	reported
)

// fleetFigure is one line of the fleet's table (BENCHMARKS.md#the-fleet).
type fleetFigure struct {
	title  string
	kind   int
	bench  string // the benchmark (the larger fleet for growth)
	small  string // growth: the smaller fleet's benchmark
	metric string
	target float64 // 0: reported only
}

var fleetFigures = []fleetFigure{
	{"10,000 authorizers, 20 ms, 32 at once", pair, "BenchmarkFleet10000", "", "ns/op", 1.15},
	{"  memory allocated (server included)", pair, "BenchmarkFleet10000", "", "B/op", 0},
	{"  allocations (server included)", pair, "BenchmarkFleet10000", "", "allocs/op", 0},
	{"1,000 authorizers, 20 ms, 32 at once", pair, "BenchmarkFleet1000", "", "ns/op", 0},
	{"1,000 → 10,000: wall time ×", growth, "BenchmarkFleet10000", "BenchmarkFleet1000", "ns/op", 11},
	{"1,000 → 10,000: allocations ×", growth, "BenchmarkFleet10000", "BenchmarkFleet1000", "allocs/op", 11},
	{"1,000 → 10,000: memory allocated ×", growth, "BenchmarkFleet10000", "BenchmarkFleet1000", "B/op", 0},
	{"peak RSS, bootstrap, 10,000, two runs", below, "BenchmarkFleetBinary10000", "", "peak-RSS-B", 128 << 20},
	{"authorizer mints in the second run", exactly, "BenchmarkFleetBinary10000", "", "second-run-authorizer-mints", 0},
	{"component mints in the second run", exactly, "BenchmarkFleetBinary10000", "", "second-run-component-mints", 0},
	// The queued fleet (docs/queue.md): 100,000 authorizers, 20 ms, 8
	// workers × 32 at once, against N × 2 × 20 ms / 256 + the planner's paging.
	{"queued 100,000: floor (s)", reported, "BenchmarkQueuedFleet100000", "", "floor-s", 0},
	{"queued 100,000: wall (s)", reported, "BenchmarkQueuedFleet100000", "", "wall-s", 0},
	{"queued 100,000: wall × floor", reported, "BenchmarkQueuedFleet100000", "", "x-floor", 0},
	{"queued 100,000: planning (s)", reported, "BenchmarkQueuedFleet100000", "", "plan-s", 0},
	{"queued 100,000: peak RSS, planner", below, "BenchmarkQueuedFleet100000", "", "planner-peak-RSS-B", 128 << 20},
	{"queued 100,000: peak RSS, largest worker", below, "BenchmarkQueuedFleet100000", "", "worker-peak-RSS-B", 128 << 20},
	{"queued 100,000: SQS requests", reported, "BenchmarkQueuedFleet100000", "", "sqs-requests", 0},
}

// reportFleet prints the fleet's table and returns how many of its
// targets were missed and how many figures were not run.
func reportFleet(w io.Writer, data map[string]map[string][]float64) (missed, notRun int) {
	fmt.Fprintf(w, "\n%-40s %12s %12s %8s %8s\n", "the fleet (medians)", "baseline", "wxcloudenv", "ratio", "target")
	side := func(bench, sub, metric string) (float64, bool) {
		if sub != "" {
			bench += "/" + sub
		}
		return median(data[bench][metric])
	}
	judge := func(ok bool) string {
		if ok {
			return "met"
		}
		missed++
		return "MISSED"
	}
	for _, f := range fleetFigures {
		switch f.kind {
		case pair:
			fl, ok1 := side(f.bench, "baseline", f.metric)
			su, ok2 := side(f.bench, "wxcloudenv", f.metric)
			if !ok1 || !ok2 || fl <= 0 {
				fmt.Fprintf(w, "%-40s %12s %12s\n", f.title, "", "not run")
				notRun++
				continue
			}
			target, verdict := "", ""
			if f.target > 0 {
				target, verdict = fmt.Sprintf("≤%.2f×", f.target), judge(su/fl <= f.target)
			}
			fmt.Fprintf(w, "%-40s %12s %12s %8s %8s  %s\n", f.title, format(fl, f.metric), format(su, f.metric),
				fmt.Sprintf("%.3f×", su/fl), target, verdict)
		case growth:
			var factor [2]float64
			ran := true
			for i, sub := range []string{"baseline", "wxcloudenv"} {
				large, ok1 := side(f.bench, sub, f.metric)
				small, ok2 := side(f.small, sub, f.metric)
				ran = ran && ok1 && ok2 && small > 0
				if ran {
					factor[i] = large / small
				}
			}
			if !ran {
				fmt.Fprintf(w, "%-40s %12s %12s\n", f.title, "", "not run")
				notRun++
				continue
			}
			target, verdict := "", ""
			if f.target > 0 {
				target, verdict = fmt.Sprintf("≤%.0f×", f.target), judge(factor[1] <= f.target)
			}
			fmt.Fprintf(w, "%-40s %12s %12s %8s %8s  %s\n", f.title, fmt.Sprintf("%.2f×", factor[0]), fmt.Sprintf("%.2f×", factor[1]),
				"", target, verdict)
		case reported:
			v, ok := side(f.bench, "", f.metric)
			if !ok {
				fmt.Fprintf(w, "%-40s %12s %12s\n", f.title, "", "not run")
				notRun++
				continue
			}
			fmt.Fprintf(w, "%-40s %12s %12s\n", f.title, "-", format(v, f.metric))
		case below, exactly:
			v, ok := side(f.bench, "", f.metric)
			if !ok {
				fmt.Fprintf(w, "%-40s %12s %12s\n", f.title, "", "not run")
				notRun++
				continue
			}
			var target, verdict string
			if f.kind == below {
				target, verdict = "<"+format(f.target, f.metric), judge(v < f.target)
			} else {
				target, verdict = "="+format(f.target, ""), judge(v == f.target)
			}
			fmt.Fprintf(w, "%-40s %12s %12s %8s %8s  %s\n", f.title, "-", format(v, f.metric), "", target, verdict)
		}
	}
	return missed, notRun
}
