package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// serveRIE runs bootstrap under the Runtime Interface Emulator at addr with
// env, until ctx ends.
func serveRIE(ctx context.Context, rie, bootstrap, addr string, env *environment, stderr io.Writer) error {
	for _, p := range []struct{ path, make string }{{rie, "make rie"}, {bootstrap, "make build"}} {
		if _, err := os.Stat(p.path); err != nil {
			return fmt.Errorf("%s is missing (%s installs it): %w", p.path, p.make, err)
		}
	}
	cmd := exec.CommandContext(ctx, rie, "--runtime-interface-emulator-address", addr, bootstrap)
	cmd.Env = env.environ()
	cmd.Stdout, cmd.Stderr = stderr, stderr
	// The emulator runs in a process group of its own: stopping the runner
	// (Ctrl-C, or a signal to its PID or to make's) interrupts it, it stops
	// the bootstrap, and whatever is left of its group is killed, so
	// nothing is left on addr.
	ownGroup(cmd)
	cmd.Cancel = func() error { return stopGroup(cmd, false) }
	cmd.WaitDelay = 5 * time.Second
	fmt.Fprintf(stderr, "wxcloudenv: serving %s under %s; try\n  curl -s -d @events/aws-http-api-v2.json http://%s/2015-03-31/functions/function/invocations\n", bootstrap, rie, addr)
	err := cmd.Run()
	// Whatever is left of the group (a bootstrap the emulator did not
	// stop) goes with it.
	_ = stopGroup(cmd, true)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("running %s: %w", rie, err)
	}
	return nil
}
