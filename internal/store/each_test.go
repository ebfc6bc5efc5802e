package store_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// batchReads counts GetMany calls and fails the one numbered failAt (1-based).
type batchReads struct {
	store.Store
	calls, failAt int
}

func (b *batchReads) GetMany(ctx context.Context, keys []string) (map[string]store.Value, error) {
	b.calls++
	if b.calls == b.failAt {
		return nil, errors.New("store down")
	}
	return b.Store.GetMany(ctx, keys)
}

// TestEach: keys are handed over in order, absent ones skipped, batch at
// a time; fn can stop; a failed read ends it with the error.
func TestEach(t *testing.T) {
	ctx := context.Background()
	mem := store.NewMemory()
	var keys []string
	for i := range 10 {
		k := "k" + strconv.Itoa(i)
		keys = append(keys, k)
		if i%3 != 0 { // k0, k3, k6, k9 absent
			_ = mem.Set(ctx, k, store.Value{Data: []byte(k)})
		}
	}
	for _, tc := range []struct {
		name      string
		stopAfter int
		failAt    int
		want      string
		calls     int
		wantErr   bool
	}{
		{"all", 0, 0, "k1k2k4k5k7k8", 3, false},
		{"stop", 3, 0, "k1k2k4", 2, false},
		{"fail in the second batch", 0, 2, "k1k2", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &batchReads{Store: mem, failAt: tc.failAt}
			got, n := "", 0
			err := store.Each(ctx, st, keys, 4, func(k string, v store.Value) bool {
				if string(v.Data) != k {
					t.Fatalf("%s holds %q", k, v.Data)
				}
				got += k
				n++
				return tc.stopAfter == 0 || n < tc.stopAfter
			})
			if got != tc.want || st.calls != tc.calls || (err != nil) != tc.wantErr {
				t.Fatalf("Each handed %q in %d reads, err %v; want %q in %d reads, error %v", got, st.calls, err, tc.want, tc.calls, tc.wantErr)
			}
		})
	}
}
