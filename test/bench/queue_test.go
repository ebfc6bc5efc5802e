package bench

import (
	"encoding/json"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/internal/queue/sqstest"
	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/test/runtimeapi"
)

// The queued fleet's conditions (docs/queue.md): 100,000 authorizers,
// fleetLatency on every WeChat call, batches of 100, queueWorkers built
// bootstraps each checking queueConcurrency at once.
const (
	queueFleet       = 100000
	queueWorkers     = 8
	queueConcurrency = 32
	queueBatch       = 100
)

// BenchmarkQueuedFleet100000 plans 100,000 authorizers with a built
// bootstrap onto a real SQS-compatible server (goaws, sqstest) and works
// them with queueWorkers built bootstraps through the event source
// mapping's contract (sqstest.Mapping), the store in Redis. The floor is
// what the waiting alone costs: the planner's paging (the component token
// and one 20 ms call per 500 authorizers of the list) plus N × 2 × 20 ms
// (each authorizer's token is minted, then getenvinfo) over the total
// concurrency. It reports the ratio to the floor, the peak resident set of
// the planner and of the largest worker (Lambda's Max Memory Used), and
// the SQS requests the run cost (sent, received, deleted, counted at the
// server).
func BenchmarkQueuedFleet100000(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("the built function is a linux binary")
	}
	srv := newFleetServer(b, queueFleet, fleetLatency)
	sq := sqstest.Start(b, 120)
	bin := build(b, "wxcloudenv", runtime.GOARCH)
	env := fleetVars(srv)
	env["WXCLOUDENV_CONCURRENCY"] = strconv.Itoa(queueConcurrency)
	env["WXCLOUDENV_FLEET_QUEUE"] = sq.QueueURL
	env["WXCLOUDENV_FLEET_BATCH"] = strconv.Itoa(queueBatch)
	env["WECHAT_TIMEOUT"] = "10s"
	for k, v := range sqstest.Credentials {
		env[k] = v
	}
	pages := (queueFleet + wechat.MaxAuthorizerListCount - 1) / wechat.MaxAuthorizerListCount
	floor := time.Duration(1+pages)*fleetLatency + time.Duration(queueFleet)*2*fleetLatency/(queueWorkers*queueConcurrency)
	var wall, planWall time.Duration
	var plannerRSS, workerRSS int64
	var requests int
	tick := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		env["WXCLOUDENV_STORE"] = storetest.StartRedis(b) // every run mints every token
		before := sq.Requests()
		calls := srv.Calls(wechat.GetEnvInfoPath)
		planAPI := runtimeapi.New()
		penv := planAPI.Env(env)
		penv["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = "128"
		planner := startProcess(b, bin, penv)
		m := &sqstest.Mapping{Server: sq, Most: 10, Timeout: 25 * time.Second}
		var workers []*process
		var apis []*runtimeapi.Emulator
		for range queueWorkers {
			api := runtimeapi.New()
			wenv := api.Env(env)
			wenv["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = "128"
			workers = append(workers, startProcess(b, bin, wenv))
			apis = append(apis, api)
			m.Workers = append(m.Workers, func(payload []byte, timeout time.Duration) ([]byte, bool, error) {
				a, _, err := api.Invoke(payload, timeout)
				return a.Body, a.IsError, err
			})
		}
		b.StartTimer()
		start := time.Now()
		a, _, err := planAPI.Invoke([]byte(`{"version":"0","id":"bench","detail-type":"Scheduled Event","source":"aws.events","time":"`+
			tick.Add(time.Duration(i)*10*time.Minute).Format(time.RFC3339)+`","detail":{}}`), 5*time.Minute)
		if err != nil || a.IsError {
			b.Fatalf("plan: %v %.300s\n%.2000s", err, a.Body, planner.out.String())
		}
		planWall += time.Since(start)
		var ev invoke.Event
		if err := json.Unmarshal(a.Body, &ev); err != nil || ev.Planned == nil || ev.Planned.Authorizers != queueFleet {
			b.Fatalf("planned %+v (%v)", ev.Planned, err)
		}
		m.Drain(b, 10*time.Minute)
		wall += time.Since(start)
		b.StopTimer()
		if got := srv.Calls(wechat.GetEnvInfoPath) - calls; got != queueFleet {
			b.Fatalf("getenvinfo called %d times for %d authorizers", got, queueFleet)
		}
		if r, ok := planner.peakRSS(); ok {
			plannerRSS = max(plannerRSS, r)
		}
		for _, w := range workers {
			if r, ok := w.peakRSS(); ok {
				workerRSS = max(workerRSS, r)
			}
			w.stop()
		}
		planner.stop()
		planAPI.Close()
		for _, api := range apis {
			api.Close()
		}
		after := sq.Requests()
		for k, v := range after {
			requests += v - before[k]
		}
		b.StartTimer()
	}
	b.ReportMetric(floor.Seconds(), "floor-s")
	b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s")
	b.ReportMetric(wall.Seconds()/float64(b.N)/floor.Seconds(), "x-floor")
	b.ReportMetric(planWall.Seconds()/float64(b.N), "plan-s")
	b.ReportMetric(float64(plannerRSS), "planner-peak-RSS-B")
	b.ReportMetric(float64(workerRSS), "worker-peak-RSS-B")
	b.ReportMetric(float64(requests)/float64(b.N), "sqs-requests")
}
