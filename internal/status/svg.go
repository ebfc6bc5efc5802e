package status

import (
	"slices"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/history"
)

// The picture's geometry, in SVG user units.
const (
	chartW, chartH   = 720, 190
	padL, padR       = 40, 8
	padT, padB       = 10, 24
	plotW            = chartW - padL - padR
	plotH            = chartH - padT - padB
	chartSpan        = 7 * 24 * time.Hour
	chartBucketWidth = 1 // one bucket per user unit of width
)

// failing is what a run counts as failing: its failed authorizers in a
// fleet, its failed operations otherwise.
func failing(r history.Run) int {
	if r.Authorizers > 0 {
		return r.FailedAuthorizers
	}
	return r.FailedOperations
}

// chart draws the last 7 days before now: failing authorizers and open
// alerts per run, as two polylines over day lines. Runs are bucketed by
// the width of the plot (the largest value of each bucket is drawn), so
// the picture's size does not grow with the number of runs.
func (w *writer) chart(runs []history.Run, now time.Time) {
	start := now.Add(-chartSpan)
	n := plotW / chartBucketWidth
	fail := make([]int, n)
	alerts := make([]int, n)
	has := make([]bool, n)
	top := 1
	for _, r := range runs {
		if r.Time.Before(start) || r.Time.After(now) {
			continue
		}
		i := int(int64(r.Time.Sub(start)) * int64(n) / int64(chartSpan))
		i = min(max(i, 0), n-1)
		has[i] = true
		fail[i] = max(fail[i], failing(r))
		alerts[i] = max(alerts[i], r.Alerts)
		top = max(top, fail[i], alerts[i])
	}
	top = niceCeil(top)
	w.raw(`<figure class="chart" style="margin:0"><svg viewBox="0 0 `)
	w.num(chartW)
	w.raw(` `)
	w.num(chartH)
	w.raw(`" role="img" aria-labelledby="chart-title" preserveAspectRatio="xMidYMid meet"><title id="chart-title">Failing authorizers and open alerts per run, last 7 days</title>`)
	// Horizontal lines at 0, half and top.
	for _, v := range []int{0, top / 2, top} {
		y := padT + plotH - v*plotH/top
		w.raw(`<line class="g" x1="`)
		w.num(padL)
		w.raw(`" x2="`)
		w.num(chartW - padR)
		w.raw(`" y1="`)
		w.num(y)
		w.raw(`" y2="`)
		w.num(y)
		w.raw(`"/><text x="`)
		w.num(padL - 4)
		w.raw(`" y="`)
		w.num(y + 4)
		w.raw(`" text-anchor="end">`)
		w.num(v)
		w.raw(`</text>`)
	}
	// A line at each midnight UTC, labelled with the day.
	day := start.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	for ; day.Before(now); day = day.Add(24 * time.Hour) {
		x := padL + int(int64(day.Sub(start))*int64(plotW)/int64(chartSpan))
		w.raw(`<line class="g" x1="`)
		w.num(x)
		w.raw(`" x2="`)
		w.num(x)
		w.raw(`" y1="`)
		w.num(padT)
		w.raw(`" y2="`)
		w.num(padT + plotH)
		w.raw(`"/><text x="`)
		w.num(x + 3)
		w.raw(`" y="`)
		w.num(chartH - 8)
		w.raw(`">`)
		w.text(day.Format("Mon 2"))
		w.raw(`</text>`)
	}
	line := func(cls safe, vals []int) {
		// The points of the buckets that have runs; on a flat stretch only
		// its ends are drawn.
		var xs, ys []int
		for i, ok := range has {
			if ok {
				xs = append(xs, padL+i*chartBucketWidth)
				ys = append(ys, padT+plotH-vals[i]*plotH/top)
			}
		}
		w.raw(`<polyline class="`)
		w.raw(cls)
		w.raw(`" points="`)
		for i := range xs {
			if i > 0 && i < len(xs)-1 && ys[i] == ys[i-1] && ys[i] == ys[i+1] {
				continue
			}
			if i > 0 {
				w.raw(` `)
			}
			w.num(xs[i])
			w.raw(`,`)
			w.num(ys[i])
		}
		w.raw(`"/>`)
	}
	if slices.Contains(has, true) {
		line("a", alerts)
		line("f", fail)
	} else {
		w.raw(`<text x="`)
		w.num(padL + plotW/2)
		w.raw(`" y="`)
		w.num(padT + plotH/2)
		w.raw(`" text-anchor="middle">no run in the last 7 days</text>`)
	}
	w.raw(`</svg><figcaption class="mut"><span class="key f"></span>failing authorizers (or operations) <span class="key a"></span>open alerts, per run; `)
	count := 0
	for _, r := range runs {
		if !r.Time.Before(start) {
			count++
		}
	}
	w.num(count)
	w.raw(` runs</figcaption></figure>`)
}

// niceCeil rounds n up to 1, 2 or 5 times a power of ten.
func niceCeil(n int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
		if p > 1e12 {
			return n
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
