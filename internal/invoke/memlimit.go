package invoke

import (
	"runtime/debug"
	"strconv"
)

// memoryShare is the part of the function's memory the Go heap may use
// before the collector works harder: the rest is the runtime's, the
// stacks', and what the event and the answers need outside the heap.
const memoryShare = 0.75

// SetMemoryLimit gives the garbage collector the platform's memory size as
// a soft limit (unless GOMEMLIMIT is set), so that a large fleet run
// collects before the function, not the platform, runs out of memory.
// Lambda names the size AWS_LAMBDA_FUNCTION_MEMORY_SIZE, SCF
// FUNCTION_MEMORY_SIZE, both in MB. It returns the limit set, or 0. A
// main calls it once, with os.LookupEnv.
func SetMemoryLimit(lookup func(string) (string, bool)) int64 {
	if _, ok := lookup("GOMEMLIMIT"); ok {
		return 0
	}
	for _, k := range []string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "FUNCTION_MEMORY_SIZE"} {
		v, ok := lookup(k)
		if !ok {
			continue
		}
		mb, err := strconv.ParseInt(v, 10, 64)
		if err != nil || mb < 64 || mb > 1<<20 {
			continue
		}
		limit := int64(float64(mb<<20) * memoryShare)
		debug.SetMemoryLimit(limit)
		return limit
	}
	return 0
}
