package bench

import (
	"fmt"
	"slices"
	"testing"
)

func TestZZFamilies(t *testing.T) {
	const n = 600
	fsrv := newFleetServer(t, n, 0)
	hf := newCore(t, fleetVars(fsrv))
	fs := countStore(hf)
	ev := scheduleEvent(t)
	for run := range 2 {
		ctx, cancel := fleetContext()
		out, err := hf.Invoke(ctx, ev)
		cancel()
		checkFleetEvent(t, out, err, n)
		f := fs.takeFamilies()
		m := map[string]int{}
		for _, x := range f {
			m[x]++
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fmt.Printf("RUN %d total %d\n", run+1, len(f))
		for _, k := range keys {
			fmt.Printf("  %s %d\n", k, m[k])
		}
	}
}
