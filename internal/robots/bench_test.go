package robots_test

import (
	"fmt"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/robots"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
)

// BenchmarkLoad10000 is a run's read of the registry with 10,000
// authorizers that each have one robot: one batch of 64 keys, decoded and
// parsed, on memory and on a real Redis.
func BenchmarkLoad10000(b *testing.B) {
	for _, name := range []string{"memory", "redis"} {
		b.Run(name, func(b *testing.B) {
			var st store.Store = store.NewMemory()
			if name == "redis" {
				s, err := store.Open(storetest.StartRedis(b))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				st = s
			}
			for i := range 10_000 {
				u := fmt.Sprintf("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=%08x-7d1c-4b2e-9f0a-bench%07d", i, i)
				if err := robots.Put(b.Context(), st, "b:", fmt.Sprintf("wxbench%010d", i), []string{u}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				owners, err := robots.Load(b.Context(), st, "b:")
				if err != nil || len(owners) != 10_000 {
					b.Fatalf("%d owners, %v", len(owners), err)
				}
			}
		})
	}
}
