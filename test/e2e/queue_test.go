package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/config/configtest"
	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
	"github.com/wxcloudenv/wxcloudenv/internal/queue"
	"github.com/wxcloudenv/wxcloudenv/internal/queue/sqstest"
	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
	"github.com/wxcloudenv/wxcloudenv/test/runtimeapi"
)

// worker hands events to a built bootstrap through its Runtime API.
func worker(api runtimeAPI) sqstest.Worker {
	return func(payload []byte, timeout time.Duration) ([]byte, bool, error) {
		a, _, err := api.Invoke(payload, timeout)
		return a.Body, a.IsError, err
	}
}

// switchProxy forwards TCP to a server and can be switched off, which cuts
// every connection: the store "down".
type switchProxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newSwitchProxy(t *testing.T, target string) *switchProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{l: l, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { l.Close(); p.set(true) })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns[c] = true
			p.mu.Unlock()
			go p.serve(c)
		}
	}()
	return p
}

func (p *switchProxy) serve(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[up] = true
	p.mu.Unlock()
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

func (p *switchProxy) set(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		p.conns = map[net.Conn]bool{}
	}
}

func (p *switchProxy) url() string { return "redis://" + p.l.Addr().String() + "/0" }

const queueRobotKey = "wecom-queue-robot-key-5d20a1"

// queuedEnv is a queued fleet's configuration.
func queuedEnv(srv *wechattest.Server, sq *sqstest.Server, robots *notifytest.Server, storeURL string) map[string]string {
	env := configtest.MintingVars(srv.URL)
	env["WECHAT_TIMEOUT"] = "5s"
	env["WXCLOUDENV_OPERATIONS"] = "getenvinfo"
	env["WXCLOUDENV_AUTHORIZERS"] = "all"
	env["WXCLOUDENV_STORE"] = storeURL
	env["WXCLOUDENV_FLEET_QUEUE"] = sq.QueueURL
	env["WXCLOUDENV_FLEET_BATCH"] = "100"
	env["WXCLOUDENV_NOTIFY"] = robots.WeComURL(queueRobotKey)
	for k, v := range sqstest.Credentials {
		env[k] = v
	}
	return env
}

// tickEvent is EventBridge's scheduled event of a tick.
func tickEvent(tick time.Time) []byte {
	return []byte(`{"version":"0","id":"a1b2","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"` +
		tick.UTC().Format(time.RFC3339) + `","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/wxcloudenv"],"detail":{}}`)
}

// plan invokes the planner for a tick and returns its event.
func planTick(t *testing.T, api runtimeAPI, tick time.Time) *invoke.Event {
	t.Helper()
	a, _ := api.invoke(t, tickEvent(tick), 60*time.Second)
	if a.isError {
		t.Fatalf("the plan failed: %s", a.body)
	}
	var ev invoke.Event
	if err := json.Unmarshal(a.body, &ev); err != nil {
		t.Fatalf("%v: %s", err, a.body)
	}
	if ev.Planned == nil {
		t.Fatalf("no planned in %s", a.body)
	}
	return &ev
}

// TestQueuedFleetThroughBinary: 5,000 authorizers planned in batches of
// 100 onto a real SQS-compatible server and worked by two built bootstraps
// through the event source mapping's contract: every authorizer checked
// once, one message per robot for the whole run; a retried plan of the
// same tick sends nothing.
func TestQueuedFleetThroughBinary(t *testing.T) {
	t.Parallel()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	ids := srv.SetFleet(4999) // and the server's one known authorizer: 5,000
	revoked := []string{ids[7], ids[2345], ids[4998]}
	for _, id := range revoked {
		srv.SetAuthorizer(id, wechattest.Authorizer{Revoked: true})
	}
	robots := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(robots.Close)
	sq := sqstest.Start(t, 60) // nothing fails here: no batch need come back
	env := queuedEnv(srv, sq, robots, storetest.StartRedis(t))

	planner, _ := startLambda(t, env)
	tick := testNow()
	ev := planTick(t, planner, tick)
	if p := ev.Planned; p.Batches != 50 || p.Authorizers != 5000 || p.Run != tick.Format("20060102T150405Z") {
		t.Fatalf("planned %+v, want 50 batches of the 5,000", p)
	}
	again := planTick(t, planner, tick)
	if !again.Planned.Repeated || again.Planned.Batches != 50 {
		t.Fatalf("retried plan = %+v, want the same tick repeated", again.Planned)
	}
	if n := sq.Requests()["SendMessageBatch"]; n != 5 {
		t.Errorf("%d SendMessageBatch calls, want 5 (50 batches, 10 a call, and none for the retried plan)", n)
	}
	m := &sqstest.Mapping{Server: sq, Most: 10}
	for range 2 {
		api, _ := startLambda(t, env)
		m.Workers = append(m.Workers, worker(api))
	}
	m.Drain(t, 3*time.Minute)
	for i := range 50 {
		if n := m.Delivered(i); n != 1 {
			t.Errorf("batch %d delivered %d times, want once (a retried plan sent it again?)", i, n)
		}
	}
	isRevoked := map[string]bool{}
	for _, id := range revoked {
		isRevoked[id] = true
	}
	for _, id := range ids {
		if n := srv.AuthorizerCalls(id); !isRevoked[id] && n != 1 {
			t.Fatalf("%s checked %d times, want once", id, n)
		}
	}
	got := robots.ReceivedBy(queueRobotKey)
	if len(got) != 1 {
		t.Fatalf("the robot got %d messages, want one for the run", len(got))
	}
	for _, id := range revoked {
		if !strings.Contains(got[0].Text, id) {
			t.Errorf("the run's message does not name %s:\n%s", id, got[0].Text)
		}
	}
	if visible, _, err := sq.Depth(context.Background(), sq.DLQURL); err != nil || visible != 0 {
		t.Errorf("dead-letter queue holds %d (%v)", visible, err)
	}
}

// TestQueuedFleetFaults: the store down while one batch is worked makes
// only that batch come back; a batch that fails all its 3 receives is
// dead-lettered and the next tick reports it missing; a redelivered batch
// reports nothing twice.
func TestQueuedFleetFaults(t *testing.T) {
	t.Parallel()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	ids := srv.SetFleet(399)                                          // and the server's one known authorizer: 400
	srv.SetAuthorizer(ids[150], wechattest.Authorizer{Revoked: true}) // in batch 1
	srv.SetAuthorizer(ids[250], wechattest.Authorizer{Revoked: true}) // in batch 2
	robots := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(robots.Close)
	// Long enough for a batch on a loaded machine: a batch handed out again
	// while it is worked would count as a second delivery.
	sq := sqstest.Start(t, 10)
	redis := storetest.StartRedis(t)
	proxy := newSwitchProxy(t, strings.TrimSuffix(strings.TrimPrefix(redis, "redis://"), "/0"))
	env := queuedEnv(srv, sq, robots, proxy.url())

	planner, _ := startLambda(t, env)
	tick := testNow()
	if p := planTick(t, planner, tick).Planned; p.Batches != 4 {
		t.Fatalf("planned %+v, want 4 batches", p)
	}
	w, _ := startLambda(t, env)
	m := &sqstest.Mapping{Server: sq, Workers: []sqstest.Worker{worker(w)}, Most: 1}
	// Batch 1: the store is down for its first delivery only. Batch 3: down
	// for every delivery, so it is dead-lettered after 3 receives.
	var mu sync.Mutex
	seen := map[int]int{}
	m.Before = func(b queue.Batch) {
		mu.Lock()
		seen[b.Batch]++
		n := seen[b.Batch]
		mu.Unlock()
		proxy.set(b.Batch == 1 && n == 1 || b.Batch == 3)
	}
	m.After = func(queue.Batch) { proxy.set(false) }
	m.Drain(t, 2*time.Minute)

	if m.Delivered(0) != 1 || m.Delivered(2) != 1 {
		t.Errorf("batches 0 and 2 delivered %d and %d times, want once: only the failed batch comes back", m.Delivered(0), m.Delivered(2))
	}
	if m.Delivered(1) != 2 {
		t.Errorf("batch 1 delivered %d times, want twice (once more after the store came back)", m.Delivered(1))
	}
	// goaws dead-letters on its own once-a-second sweep of expired
	// receipts, so under load its count may be one off from the mapping's;
	// what matters here is that the batch came back and then stopped.
	if n := m.Delivered(3); n < 2 || n > sqstest.MaxReceives {
		t.Errorf("batch 3 delivered %d times, want it to come back, %d times at most, before it is dead-lettered", n, sqstest.MaxReceives)
	}
	if visible, _, err := sq.Depth(context.Background(), sq.DLQURL); err != nil || visible != 1 {
		t.Errorf("dead-letter queue holds %d (%v), want batch 3", visible, err)
	}
	checked := 0
	for _, id := range ids {
		switch n := srv.AuthorizerCalls(id); {
		case n > 1:
			t.Fatalf("%s checked %d times, want at most once", id, n)
		case n == 1:
			checked++
		}
	}
	if checked < 300-3 || checked > 300 {
		t.Errorf("%d authorizers checked, want the 3 batches worked (300, less the revoked)", checked)
	}
	if got := robots.ReceivedBy(queueRobotKey); len(got) != 0 {
		t.Fatalf("the robot got %d messages before the run finished", len(got))
	}
	// The next tick reports the dead-lettered batch missing.
	next := planTick(t, planner, tick.Add(10*time.Minute))
	if prev := next.Planned.Previous; prev == nil || prev.Missing != 1 || prev.Batches != 4 || prev.Run != tick.Format("20060102T150405Z") {
		t.Fatalf("previous = %+v, want 1 of 4 batches of the first run missing", next.Planned.Previous)
	}
	got := robots.ReceivedBy(queueRobotKey)
	if len(got) != 1 || !strings.Contains(got[0].Text, "1 of 4 batches") {
		t.Fatalf("the robot got %d messages, want the missing batch reported: %+v", len(got), got)
	}
}

// TestQueuedWorkerKilledMidBatch: a worker killed while it checks a batch
// never answers; the batch comes back after the visibility timeout to
// another worker, and the run's one message reports each change once.
func TestQueuedWorkerKilledMidBatch(t *testing.T) {
	t.Parallel()
	srv := wechattest.NewServer()
	t.Cleanup(srv.Close)
	ids := srv.SetFleet(199) // and the server's one known authorizer: 200
	for _, id := range ids {
		srv.SetAuthorizer(id, wechattest.Authorizer{Revoked: id == ids[20] || id == ids[180]})
	}
	srv.SetLatency(wechat.GetEnvInfoPath, 100*time.Millisecond)
	robots := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(robots.Close)
	// The visibility timeout is well above a batch's time (as the
	// template's is six times the function's timeout).
	sq := sqstest.Start(t, 20)
	env := queuedEnv(srv, sq, robots, storetest.StartRedis(t))
	env["WXCLOUDENV_CONCURRENCY"] = "8"
	planner, _ := startLambda(t, env)
	if p := planTick(t, planner, testNow()).Planned; p.Batches != 2 {
		t.Fatalf("planned %+v, want 2 batches", p)
	}

	// The first worker is killed half a second into its first batch.
	api := runtimeAPI{runtimeapi.New()}
	t.Cleanup(api.Close)
	cmd := exec.Command(bootstrapBin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range api.Env(env) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var once sync.Once
	killed := &sqstest.Mapping{Server: sq, Most: 1, Timeout: 3 * time.Second, Single: true,
		Before: func(queue.Batch) {
			once.Do(func() { time.AfterFunc(500*time.Millisecond, func() { cmd.Process.Kill() }) })
		}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	killed.Poll(t, ctx, worker(api)) // one event, which the killed worker never answers
	cancel()

	second, _ := startLambda(t, env)
	m := &sqstest.Mapping{Server: sq, Workers: []sqstest.Worker{worker(second)}, Most: 10}
	m.Drain(t, 2*time.Minute)
	for _, id := range ids {
		if srv.AuthorizerCalls(id) == 0 && id != ids[20] && id != ids[180] {
			t.Fatalf("%s never checked", id)
		}
	}
	got := robots.ReceivedBy(queueRobotKey)
	if len(got) != 1 {
		t.Fatalf("the robot got %d messages, want one for the run", len(got))
	}
	for _, id := range []string{ids[20], ids[180]} {
		if n := strings.Count(got[0].Text, id); n != 1 {
			t.Errorf("%s named %d times in the run's message, want once:\n%s", id, n, got[0].Text)
		}
	}
}
