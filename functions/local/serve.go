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
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	fmt.Fprintf(stderr, "wxcloudenv: serving %s under %s; try\n  curl -s -d @events/aws-http-api-v2.json http://%s/2015-03-31/functions/function/invocations\n", bootstrap, rie, addr)
	if err := cmd.Run(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("running %s: %w", rie, err)
	}
	return nil
}
