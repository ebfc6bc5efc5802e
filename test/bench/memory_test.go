package bench

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/config/configtest"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
	"github.com/wxcloudenv/wxcloudenv/test/runtimeapi"
)

// functionMemory is the smallest memory a Lambda or SCF function gets, in
// which every answer the default WECHAT_MAX_RESPONSE_BYTES admits must be
// handled.
const functionMemory = 128 << 20

// fill returns head, then item repeated (comma-separated) as often as fits
// in size bytes with tail, then tail.
func fill(head, item, tail string, size int) []byte {
	b := make([]byte, 0, size)
	b = append(b, head...)
	for i := 0; len(b)+len(item)+1+len(tail) <= size; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, item...)
	}
	return append(b, tail...)
}

// adversarial are answers of just under the default size limit, shaped to
// cost the most memory per byte.
func adversarial() map[string][]byte {
	size := wechat.DefaultMaxResponseBytes - 1
	fit := 5 << 20
	halted := `{"env_id":"env-halted-0123456789","source":"miniapp","alias":"halted","status":"HALTED",` +
		`"databases":[{"instance_id":"tnt-0123456789","status":"UNUSABLE"}],"static_storages":[{"bucket":"7072-static-0123456789","status":"offline"}]}`
	long := strings.Repeat("x", 200)
	return map[string][]byte{
		"empty-envs":     fill(`{"errcode":0,"errmsg":"ok","env_list":[`, `{}`, `]}`, size),
		"null-envs":      fill(`{"errcode":0,"errmsg":"ok","env_list":[`, `null`, `]}`, size),
		"halted-envs":    fill(`{"errcode":0,"errmsg":"ok","env_list":[`, halted, `]}`, size),
		"long-ids":       fill(`{"errcode":0,"errmsg":"ok","env_list":[`, `{"env_id":"`+long+`","alias":"`+long+`","status":"`+long+`"}`, `]}`, size),
		"tiny-databases": fill(`{"errcode":0,"errmsg":"ok","env_list":[{"env_id":"e","status":"NORMAL","databases":[`, `{"status":"UNUSABLE"}`, `]}]}`, size),
		"escaped-alias":  fill(`{"errcode":0,"errmsg":"ok","env_list":[`, `{"status":"HALTED","alias":"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"}`, `]}`, size),
		"huge-errmsg":    []byte(`{"errcode":40001,"errmsg":"` + strings.Repeat("a", size-40) + `"}`),
		"deep-nesting":   []byte(`{"errcode":0,"env_list":[],"x":` + strings.Repeat("[", 9990) + strings.Repeat("]", 9990) + `,"y":"` + strings.Repeat("b", size-20100) + `"}`),
		"numbers":        fill(`{"errcode":0,"errmsg":"ok","env_list":[],"n":[`, `1e9`, `]}`, size),
		// Answers whose event is built: under the 6 MB answer cap.
		"halted-envs-5MiB": fill(`{"errcode":0,"errmsg":"ok","env_list":[`, halted, `]}`, fit),
		"long-ids-5MiB":    fill(`{"errcode":0,"errmsg":"ok","env_list":[`, `{"env_id":"`+long+`","alias":"`+long+`","status":"`+long+`"}`, `]}`, fit),
		"empty-envs-5MiB":  fill(`{"errcode":0,"errmsg":"ok","env_list":[`, `{}`, `]}`, fit),
		"realistic-5MiB":   wechattest.GenerateRunEnvs(4600),
	}
}

// BenchmarkPeakRSSAdversarial runs the built function, with its default
// settings, on answers of just under the default size limit, shaped to
// cost the most memory, and reports the process's peak resident set size.
// It fails when a peak reaches the 128 MB of the smallest function.
func BenchmarkPeakRSSAdversarial(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("the built function is a linux binary")
	}
	bin := build(b, "wxcloudenv", runtime.GOARCH)
	triggers := map[string][]byte{
		"direct": []byte(`{"operations":["describecloudbaserunenvs"]}`),
		"http": []byte(`{"version":"2.0","rawPath":"/envs/describecloudbaserunenvs","rawQueryString":"","headers":{},` +
			`"requestContext":{"http":{"method":"GET","path":"/envs/describecloudbaserunenvs"}},"isBase64Encoded":false}`),
	}
	for name, body := range adversarial() {
		for trig, payload := range triggers {
			name := name + "/" + trig
			b.Run(name, func(b *testing.B) {
				srv := wechattest.NewServer()
				defer srv.Close()
				srv.SetAnswer(wechat.DescribeCloudBaseRunEnvsPath, body)
				var peak int64
				for b.Loop() {
					api := runtimeapi.New()
					p := startProcess(b, bin, api.Env(configtest.StaticVars(srv.URL)))
					a, _, err := api.Invoke(payload, 60*time.Second)
					if err != nil || len(a.Body) == 0 {
						p.stop()
						api.Close()
						b.Fatalf("%s: %v\n%s", name, err, p.out.String())
					}
					if len(a.Body) > 6<<20 || bytes.Contains(p.out.Bytes(), []byte("out of memory")) {
						b.Errorf("%s: answer %d bytes, output %.300s", name, len(a.Body), p.out.String())
					}
					if r, ok := p.peakRSS(); ok {
						peak = max(peak, r)
					}
					p.stop()
					api.Close()
				}
				b.ReportMetric(float64(peak), "peak-RSS-B")
				b.ReportMetric(float64(len(body)), "answer-B")
				if peak >= functionMemory {
					b.Errorf("%s: peak RSS %d bytes, at or over the %d of a 128 MB function", name, peak, functionMemory)
				}
			})
		}
	}
}
