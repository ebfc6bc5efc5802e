package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/notify/notifytest"
)

// TestOwnerRobotsLocally: -robots gives a fleet authorizer its own robot
// in a file store; the fleet run sends it that authorizer's lines only;
// -robots-list shows kinds and hosts; -robots-delete removes it; bad input
// is refused naming the field; no robot key in any output.
func TestOwnerRobotsLocally(t *testing.T) {
	clearCredentials(t)
	t.Setenv("WXCLOUDENV_AUTHORIZERS", "")
	t.Setenv("WXCLOUDENV_STORE", "")
	robots := notifytest.NewServer(notifytest.Options{})
	t.Cleanup(robots.Close)
	const key = "local-owner-robot-key-2b8e"
	const owner = "wxf1ee700000000001"
	st := "file://" + filepath.Join(t.TempDir(), "robots.db")
	var all strings.Builder
	runArgs := func(args ...string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), args, nil, &stdout, &stderr)
		all.WriteString(stdout.String() + stderr.String())
		if err != nil {
			all.WriteString(err.Error())
		}
		return stdout.String(), stderr.String(), err
	}

	if _, _, err := runArgs("-robots", owner+"="+robots.WeComURL(key), "-robots-list"); err == nil || !strings.Contains(err.Error(), "-store") {
		t.Errorf("without a shared store: %v", err)
	}
	if _, _, err := runArgs("-store", st, "-robots", owner+"="+robots.URL+"/nope?key="+key, "-robots-list"); err == nil || !strings.Contains(err.Error(), "urls[0]") {
		t.Errorf("a bad URL: %v", err)
	}
	_, stderr, err := runArgs("-emulate", "-scenario", "fleet", "-store", st, "-robots", owner+"="+robots.WeComURL(key))
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	msgs := robots.ReceivedBy(key)
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, owner) || strings.Contains(msgs[0].Text, "wxf1ee700000000002") {
		t.Errorf("the owner robot got %+v, want one message about %s only", msgs, owner)
	}
	stdout, _, err := runArgs("-store", st, "-robots-list")
	if err != nil || strings.TrimSpace(stdout) != owner+"\twecom "+strings.TrimPrefix(robots.URL, "http://") {
		t.Errorf("-robots-list: %q, %v", stdout, err)
	}
	if stdout, _, err = runArgs("-store", st, "-robots-delete", owner, "-robots-list"); err != nil || stdout != "" {
		t.Errorf("after -robots-delete: %q, %v", stdout, err)
	}
	if strings.Contains(all.String(), key) {
		t.Error("the robot's key shows in the output")
	}
}
