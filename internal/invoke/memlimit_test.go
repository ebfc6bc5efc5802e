package invoke

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestSetMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	tests := []struct {
		vars map[string]string
		want int64
	}{
		{map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"}, 96 << 20},
		{map[string]string{"FUNCTION_MEMORY_SIZE": "256"}, 192 << 20},
		{map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "GOMEMLIMIT": "50MiB"}, 0},
		{map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "lots"}, 0},
		{nil, 0},
	}
	for _, tt := range tests {
		debug.SetMemoryLimit(math.MaxInt64)
		got := SetMemoryLimit(func(k string) (string, bool) { v, ok := tt.vars[k]; return v, ok })
		if got != tt.want {
			t.Errorf("%v: limit %d, want %d", tt.vars, got, tt.want)
		}
		if tt.want != 0 && debug.SetMemoryLimit(-1) != tt.want {
			t.Errorf("%v: the runtime's limit is not set", tt.vars)
		}
	}
}
