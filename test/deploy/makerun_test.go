package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestMakeRunPrintsOnlyTheEvent: `make run` (run as a user types it, with
// no -s) prints the event alone on standard output, so that it pipes into
// jq; the summary goes to standard error.
func TestMakeRunPrintsOnlyTheEvent(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "-C", root, "run", "ARGS=-scenario healthy")
	// The emulator ignores credentials; keep the developer's out anyway.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "GOCACHE=" + goEnv(t, "GOCACHE"),
		"GOMODCACHE=" + goEnv(t, "GOMODCACHE"), "GOFLAGS=" + os.Getenv("GOFLAGS"), "GOTOOLCHAIN=" + os.Getenv("GOTOOLCHAIN")}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("make run: %v\n%s", err, stderr.String())
	}
	var ev struct {
		Source string `json:"source"`
		OK     bool   `json:"ok"`
	}
	dec := json.NewDecoder(&stdout)
	if err := dec.Decode(&ev); err != nil || ev.Source != "wxcloudenv" || !ev.OK {
		t.Fatalf("standard output is not one event (%v): %+v\n%s", err, ev, stdout.String())
	}
	if dec.More() {
		t.Errorf("standard output has more than the event")
	}
	if !strings.Contains(stderr.String(), "summary: 2 operations") {
		t.Errorf("no summary on standard error:\n%s", stderr.String())
	}
}

// goEnv returns go env NAME, so that the make run above shares the test's
// caches.
func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}
