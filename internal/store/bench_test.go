package store_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
)

// BenchmarkStore measures one operation's latency on each backend, servers
// on loopback.
func BenchmarkStore(b *testing.B) {
	redisURL := storetest.StartRedis(b)
	dynURL, dynEnv := storetest.StartDynamo(b)
	for _, bk := range []struct {
		name string
		url  string
	}{
		{"memory", "memory"},
		{"file", "file://" + b.TempDir() + "/bench.db"},
		{"redis", redisURL},
		{"dynamodb", dynURL},
	} {
		s, err := store.Open(bk.url, store.WithEnv(storetest.Lookup(dynEnv)))
		if err != nil {
			b.Fatal(err)
		}
		v := store.Value{Data: []byte(`{"token":"0123456789abcdef0123456789abcdef","expires_in":7200}`), Expires: time.Now().Add(time.Hour)}
		if err := s.Set(b.Context(), "bench:get", v); err != nil {
			b.Fatal(err)
		}
		b.Run(bk.name+"/Get", func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Get(b.Context(), "bench:get"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bk.name+"/Set", func(b *testing.B) {
			for b.Loop() {
				if err := s.Set(b.Context(), "bench:set", v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bk.name+"/CompareAndSwap", func(b *testing.B) {
			if err := s.Delete(b.Context(), "bench:cas"); err != nil {
				b.Fatal(err)
			}
			old := []byte(nil)
			i := 0
			for b.Loop() {
				next := store.Value{Data: []byte(strconv.Itoa(i)), Expires: v.Expires}
				ok, err := s.CompareAndSwap(b.Context(), "bench:cas", old, next)
				if err != nil || !ok {
					b.Fatalf("CompareAndSwap = %v, %v", ok, err)
				}
				old = next.Data
				i++
			}
		})
		s.Close()
	}
}

// BenchmarkOpen measures building each backend's client (what a cold start
// pays before the first call; no I/O happens here).
func BenchmarkOpen(b *testing.B) {
	env := storetest.Lookup(map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "sk"})
	for _, url := range []string{"memory", "file:///tmp/wxcloudenv-bench/store.db", "redis://:pw@127.0.0.1:6379/0", "dynamodb://wxcloudenv-state"} {
		name, _, _ := strings.Cut(url, ":")
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				s, err := store.Open(url, store.WithEnv(env))
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
	}
}
