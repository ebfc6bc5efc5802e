package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
	"github.com/wxcloudenv/wxcloudenv/internal/queue/sqstest"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// localRobotKey is the key of the robot -queue prints the messages of.
const localRobotKey = "local-queue-robot"

// runQueued shows a queued fleet run end to end (docs/queue.md): it starts
// goaws (bin/goaws) on loopback, plans a scheduled fleet run onto it with
// this process's handler, works the batches with the same handler as
// Lambda's event source mapping would (sqstest.Mapping: up to 10 a time,
// failures come back), and prints the plan, what was worked, and the run's
// one robot message, received by a local robot.
func runQueued(ctx context.Context, timeout time.Duration, env *environment, stdout, stderr io.Writer) error {
	bin, err := sqstest.Binary(moduleRoot())
	if err != nil {
		return fmt.Errorf("-queue needs the SQS-compatible server goaws: %s", sqstest.InstallHint)
	}
	dir, err := os.MkdirTemp("", "wxcloudenv-queue")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sq, stop, err := sqstest.Launch(bin, dir, 30)
	if err != nil {
		return err
	}
	defer stop()
	setDefault := func(k, v string) {
		if s, _ := env.lookup(k); s == "" || k == "WXCLOUDENV_STORE" && s == "memory" {
			env.set(k, v)
		}
	}
	setDefault("WXCLOUDENV_STORE", "file://"+filepath.Join(dir, "state.db"))
	setDefault("WXCLOUDENV_AUTHORIZERS", "all")
	setDefault("WXCLOUDENV_FLEET_BATCH", "2")
	env.set("WXCLOUDENV_FLEET_QUEUE", sq.QueueURL)
	for k, v := range sqstest.Credentials {
		env.set(k, v)
	}
	robots := notifytest.NewServer(notifytest.Options{})
	defer robots.Close()
	setDefault("WXCLOUDENV_NOTIFY", robots.WeComURL(localRobotKey))
	storeURL, _ := env.lookup("WXCLOUDENV_STORE")
	fmt.Fprintf(stderr, "wxcloudenv: queue %s (goaws), store %s\n", sq.QueueURL, store.Redacted(storeURL))

	h := invoke.NewWithLog(invoke.PlatformLocal, stderr)
	h.Lookup = env.lookup
	tick := time.Now().UTC().Truncate(time.Minute)
	event := []byte(`{"version":"0","id":"local","detail-type":"Scheduled Event","source":"aws.events","time":"` +
		tick.Format(time.RFC3339) + `","region":"local","resources":[],"detail":{}}`)
	ictx, cancel := context.WithTimeout(ctx, timeout)
	out, err := h.Invoke(ictx, event)
	cancel()
	if err != nil {
		return fmt.Errorf("the plan failed: %w", err)
	}
	fmt.Fprintf(stdout, "%s\n", readable(out))

	rep := &reporter{w: stderr}
	m := &sqstest.Mapping{Server: sq, Most: 10, Timeout: timeout, Workers: []sqstest.Worker{
		func(payload []byte, timeout time.Duration) ([]byte, bool, error) {
			wctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			out, err := h.Invoke(wctx, payload)
			if err != nil {
				return []byte(err.Error()), true, nil
			}
			fmt.Fprintf(stderr, "worker answered: %s\n", out)
			return out, false, nil
		}}}
	m.Drain(rep, 2*time.Minute)
	if rep.failed {
		return fmt.Errorf("the queue was not worked through")
	}
	reqs := sq.Requests()
	names := make([]string, 0, len(reqs))
	for k, v := range reqs {
		names = append(names, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(names)
	fmt.Fprintf(stderr, "queue: %d events handed to the worker; SQS requests: %s\n", m.Events(), strings.Join(names, ", "))
	got := robots.ReceivedBy(localRobotKey)
	if len(got) == 0 {
		fmt.Fprintln(stderr, "robot: no message (nothing changed)")
	}
	for _, r := range got {
		fmt.Fprintf(stderr, "robot message (WeCom, received locally):\n%s\n", r.Text)
	}
	return nil
}

// reporter is the mapping's report to standard error.
type reporter struct {
	w      io.Writer
	failed bool
}

func (r *reporter) Helper() {}

func (r *reporter) Errorf(format string, args ...any) {
	r.failed = true
	fmt.Fprintf(r.w, "queue: "+format+"\n", args...)
}

func (r *reporter) Fatalf(format string, args ...any) { r.Errorf(format, args...) }

// moduleRoot is the nearest directory above the working directory that
// holds go.mod (bin/ is there), else the working directory.
func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}
