// Command benchreport reads `go test -bench` output (of one or several
// -count runs) and prints each figure of test/bench beside its baseline:
// the median of each side, their ratio, and the target it is held to.
//
//	go test -run '^$' -bench . -benchmem -count 5 ./... | tee bench.txt
//	go run ./tools/benchreport bench.txt
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// figure is one line of the report.
type figure struct {
	title     string
	bench     string  // benchmark name without sub-benchmark and -N
	baseline  string  // sub-benchmark of the baseline ("" for none)
	subject   string  // sub-benchmark measured
	metric    string  // unit as printed by go test
	target    float64 // largest ratio allowed (0: reported only)
	wantExact float64 // for figures without a baseline: the value wanted
}

var figures = []figure{
	// Warm, cold start and size are judged in the paired table above.
	{"warm invocation, both operations", "BenchmarkWarm", "baseline", "wxcloudenv", "ns/op", 0, 0},
	{"  memory allocated", "BenchmarkWarm", "baseline", "wxcloudenv", "B/op", 0, 0},
	{"100 ms latency on each endpoint", "BenchmarkLatency100ms", "baseline", "wxcloudenv", "ns/op", 1.05, 0},
	{"5000-environment answer", "BenchmarkRunEnvs5000", "baseline", "wxcloudenv", "ns/op", 1.5, 0},
	{"  memory allocated", "BenchmarkRunEnvs5000", "baseline", "wxcloudenv", "B/op", 0, 0},
	{"  allocations", "BenchmarkRunEnvs5000", "baseline", "wxcloudenv", "allocs/op", 0, 0},
	{"  peak RSS of the process", "BenchmarkColdStartRunEnvs5000", "baseline", "wxcloudenv", "peak-RSS-B", 2.0, 0},
	{"cold start to first answer", "BenchmarkColdStart", "baseline", "wxcloudenv", "ns/op", 0, 0},
	{"  peak RSS of the process", "BenchmarkColdStart", "baseline", "wxcloudenv", "peak-RSS-B", 0, 0},
	{"binary size (linux/arm64)", "BenchmarkBinarySize", "baseline", "wxcloudenv", "binary-B", 0, 0},
	{"component token mints, N invocations", "BenchmarkMintedTokens", "", "", "component-mints", 0, 1},
	{"authorizer token mints, N invocations", "BenchmarkMintedTokens", "", "", "authorizer-mints", 0, 1},
	{"answer check vs json.Valid (5 MB)", "BenchmarkScanAnswer", "json.Valid", "scan", "ns/op", 0, 0},
	// The shared store (BENCHMARKS.md, "The shared store").
	{"store: cold start, tokens in Redis, 100 ms", "BenchmarkStoreColdStartLatency100ms", "baseline", "wxcloudenv", "ns/op", 1.05, 0},
	{"  token mints, N cold starts", "BenchmarkStoreColdStartLatency100ms", "", "wxcloudenv", "mints", 0, 0},
	{"store: warm invocation, redis://", "BenchmarkStoreWarm", "baseline", "wxcloudenv", "ns/op", 1.15, 0},
	{"  memory allocated", "BenchmarkStoreWarm", "baseline", "wxcloudenv", "B/op", 0, 0},
	{"store: cold start, file:// store", "BenchmarkStoreColdStart", "baseline", "wxcloudenv-file", "ns/op", 0, 0},
	{"  peak RSS of the process", "BenchmarkStoreColdStart", "baseline", "wxcloudenv-file", "peak-RSS-B", 0, 0},
	{"store: cold start, redis:// store", "BenchmarkStoreColdStart", "baseline", "wxcloudenv-redis", "ns/op", 0, 0},
	{"  peak RSS of the process", "BenchmarkStoreColdStart", "baseline", "wxcloudenv-redis", "peak-RSS-B", 0, 0},
}

var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parse collects every value of every metric per benchmark name.
func parse(r io.Reader) (map[string]map[string][]float64, error) {
	out := map[string]map[string][]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		fields := strings.Fields(m[2])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			if out[m[1]] == nil {
				out[m[1]] = map[string][]float64{}
			}
			out[m[1]][fields[i+1]] = append(out[m[1]][fields[i+1]], v)
		}
	}
	return out, sc.Err()
}

func median(v []float64) (float64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

func format(v float64, unit string) string {
	switch {
	case unit == "ns/op":
		switch {
		case v >= 1e9:
			return fmt.Sprintf("%.2f s", v/1e9)
		case v >= 1e6:
			return fmt.Sprintf("%.2f ms", v/1e6)
		case v >= 1e3:
			return fmt.Sprintf("%.1f µs", v/1e3)
		}
		return fmt.Sprintf("%.0f ns", v)
	case strings.HasSuffix(unit, "B") || unit == "B/op":
		switch {
		case v >= 1<<20:
			return fmt.Sprintf("%.2f MiB", v/(1<<20))
		case v >= 1<<10:
			return fmt.Sprintf("%.1f KiB", v/(1<<10))
		}
		return fmt.Sprintf("%.0f B", v)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func main() {
	in := io.Reader(os.Stdin)
	if len(os.Args) > 1 {
		f, err := os.Open(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		defer f.Close()
		in = f
	}
	data, err := parse(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	missed, notRun := reportPaired(os.Stdout, data)
	m3, n3 := reportRoundTrips(os.Stdout, data)
	missed, notRun = missed+m3, notRun+n3
	fmt.Println()
	fmt.Printf("%-40s %12s %12s %8s %8s\n", "figure (medians)", "baseline", "wxcloudenv", "ratio", "target")
	for _, f := range figures {
		if f.baseline == "" {
			name := f.bench
			if f.subject != "" {
				name += "/" + f.subject
			}
			v, ok := median(data[name][f.metric])
			if !ok {
				fmt.Printf("%-40s %12s %12s\n", f.title, "", "not run")
				notRun++
				continue
			}
			verdict := "met"
			if v != f.wantExact {
				verdict, missed = "MISSED", missed+1
			}
			fmt.Printf("%-40s %12s %12s %8s %8s  %s\n", f.title, "-", format(v, f.metric), "", "="+format(f.wantExact, ""), verdict)
			continue
		}
		fl, ok1 := median(data[f.bench+"/"+f.baseline][f.metric])
		su, ok2 := median(data[f.bench+"/"+f.subject][f.metric])
		if !ok1 || !ok2 {
			fmt.Printf("%-40s %12s %12s\n", f.title, "", "not run")
			notRun++
			continue
		}
		ratio := "-"
		if fl > 0 {
			ratio = fmt.Sprintf("%.3f×", su/fl)
		}
		target, verdict := "", ""
		if f.target > 0 {
			target = fmt.Sprintf("≤%.2f×", f.target)
			verdict = "met"
			if fl <= 0 || su/fl > f.target {
				verdict, missed = "MISSED", missed+1
			}
		}
		fmt.Printf("%-40s %12s %12s %8s %8s  %s\n", f.title, format(fl, f.metric), format(su, f.metric), ratio, target, verdict)
	}
	m, n := reportFleet(os.Stdout, data)
	missed, notRun = missed+m, notRun+n
	fmt.Printf("\n%d target(s) missed, %d figure(s) not run.\n", missed, notRun)
}
