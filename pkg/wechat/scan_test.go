package wechat_test

import (
	"encoding/json"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// BenchmarkScanAnswer reads a 5000-environment answer in one pass; the
// json sub-benchmarks are what the client did before: json.Valid alone,
// and decoding into a map to find errcode.
func BenchmarkScanAnswer(b *testing.B) {
	raw := wechattest.GenerateRunEnvs(5000)
	b.Run("scan", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, err := wechat.ScanRunEnvs(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if !json.Valid(raw) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("json.Unmarshal-map", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
