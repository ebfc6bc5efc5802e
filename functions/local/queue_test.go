package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
)

// TestRunQueued: -queue plans the fleet scenario onto goaws, works every
// batch in this process and prints the run's one robot message.
func TestRunQueued(t *testing.T) {
	clearCredentials(t)
	for _, k := range []string{"WXCLOUDENV_STORE", "WXCLOUDENV_AUTHORIZERS", "WXCLOUDENV_FLEET_BATCH", "WXCLOUDENV_FLEET_QUEUE", "WXCLOUDENV_NOTIFY",
		"WXCLOUDENV_OPERATIONS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} {
		t.Setenv(k, "")
	}
	t.Setenv("WXCLOUDENV_OPERATIONS", "getenvinfo")
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"-emulate", "-scenario", "fleet", "-queue"}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	var ev invoke.Event
	if err := json.Unmarshal(stdout.Bytes(), &ev); err != nil {
		t.Fatalf("the plan's answer is not an event: %v\n%s", err, stdout.String())
	}
	// The scenario's four authorizers (and the emulator's own, where the
	// scenario keeps it), in batches of 2.
	if p := ev.Planned; p == nil || p.Authorizers < 4 || p.Batches != (p.Authorizers+1)/2 {
		t.Fatalf("planned %+v, want the scenario's authorizers in batches of 2", ev.Planned)
	}
	out := stderr.String()
	for _, want := range []string{"robot message (WeCom, received locally)", "61023", "HALTED", "SendMessageBatch 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("stderr lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "robot message"); n != 1 {
		t.Errorf("%d robot messages, want the run's one", n)
	}
}
