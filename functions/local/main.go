// Command local runs one wxcloudenv invocation on this machine and prints
// the answer, or serves the built bootstrap under the AWS Lambda Runtime
// Interface Emulator (a Docker-free `sam local`). Run it with -h for every
// flag.
//
//	go run ./functions/local -emulate                      # the built-in WeChat emulator, scenario "demo" (one alert)
//	go run ./functions/local -emulate -fault describecloudbaserunenvs=errcode:61004
//	go run ./functions/local -emulate -event events/aws-http-api-v2.json
//	go run ./functions/local -payload '{"env":"prod-7c21be"}'  # against real WeChat, with WECHAT_* set
//	go run ./functions/local -emulate -serve 127.0.0.1:9000   # bin/bootstrap under bin/aws-lambda-rie
//	go run ./functions/local -emulate -scenario fleet -notify-preview  # a small fleet, its alerts and the robot message
//	go run ./functions/local -emulate -store file:///tmp/x.db -runs 2  # the second cold run mints nothing
//	go run ./functions/local -emulate -scenario fleet -queue  # a queued fleet run on bin/goaws, end to end
//	go run ./functions/local -emulate -scenario fleet -runs 3 -status 127.0.0.1:8080  # the status page in a browser
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
	configusage "github.com/wxcloudenv/wxcloudenv/internal/config/usage"
	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, exitMessage(err))
		os.Exit(1)
	}
}

// exitMessage is the last line the runner prints when run fails. A failed
// invocation's cause is already in the function's log line, so it is not
// printed a second time.
func exitMessage(err error) string {
	var ie *invoke.InvocationError
	if errors.As(err, &ie) {
		return "local: the invocation failed (the log line above says why)"
	}
	return "local: " + scrubError(err, os.LookupEnv)
}

// scrubbedError is an error whose text had secrets removed; it keeps the
// chain.
type scrubbedError struct {
	text string
	err  error
}

func (e *scrubbedError) Error() string { return e.text }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrubError returns err's text without the secrets of the configuration
// lookup reads (the store's password included).
func scrubError(err error, lookup config.Lookup) string {
	sc := wechat.NewScrubber()
	if cfg, perr := config.Parse(lookup); perr == nil {
		sc.Keep(cfg.Secrets()...)
		sc.Keep(store.Secrets(cfg.Store)...)
	}
	return sc.Scrub(err.Error())
}

// run is the runner: flags, the environment the handler reads, the
// emulator, then one invocation per run or the RIE until ctx ends.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	o, err := parseFlags(args, stdin, stderr)
	switch {
	case errors.Is(err, errHelp):
		return nil
	case err != nil:
		return err
	case o.variables:
		return configusage.Write(stdout)
	}
	env := newEnvironment()
	defer func() {
		if err != nil {
			err = &scrubbedError{scrubError(err, env.lookup), err}
		}
	}()
	if o.storeURL != "" {
		env.set("WXCLOUDENV_STORE", o.storeURL)
	}
	if o.owners.used() {
		if done, err := o.owners.apply(ctx, env.lookup, stdout, stderr); err != nil || done {
			return err
		}
	}
	var emu *wechattest.Server
	if o.emulate {
		emu = wechattest.NewServer()
		defer emu.Close()
		if err := setScenario(emu, env, o.scenario); err != nil {
			return err
		}
		for _, f := range o.faults {
			if err := addFault(emu, f); err != nil {
				return err
			}
		}
		useEmulator(emu, env)
		fmt.Fprintf(stderr, "wxcloudenv: using the WeChat emulator at %s, scenario %s\n", emu.URL, o.scenario)
	}
	if o.serve != "" {
		return serveRIE(ctx, o.rie, o.bootstrap, o.serve, env, stderr)
	}
	if o.queued {
		return runQueued(ctx, o.timeout, env, stdout, stderr)
	}
	if o.statusAddr != "" {
		return serveStatus(ctx, o.statusAddr, o.event, o.runs, o.every, o.timeout, env, stderr)
	}
	for i := range o.runs {
		if o.runs > 1 {
			fmt.Fprintf(stderr, "wxcloudenv: run %d of %d\n", i+1, o.runs)
		}
		if err := runOnce(ctx, o, env, emu, stdout, stderr); err != nil {
			return err
		}
	}
	return nil
}

// runOnce invokes a fresh handler, reading its configuration from env,
// once and prints its answer and summary.
func runOnce(ctx context.Context, o *options, env *environment, emu *wechattest.Server, stdout, stderr io.Writer) error {
	var before map[string]int
	if emu != nil {
		before = mintCounts(emu)
	}
	h := invoke.NewWithLog(invoke.PlatformLocal, stderr)
	h.Lookup = env.lookup
	ictx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	out, err := h.Invoke(ictx, o.event)
	if err != nil {
		return err
	}
	if o.compact {
		_, err = fmt.Fprintf(stdout, "%s\n", out)
	} else {
		_, err = fmt.Fprintf(stdout, "%s\n", readable(out))
	}
	if err != nil {
		return fmt.Errorf("writing the answer: %w", err)
	}
	if s := summary(out); s != "" {
		fmt.Fprint(stderr, s)
	}
	if emu != nil {
		after := mintCounts(emu)
		fmt.Fprintf(stderr, "emulator: this run minted %d component, %d authorizer and %d access tokens\n",
			after["component"]-before["component"], after["authorizer"]-before["authorizer"], after["access"]-before["access"])
	}
	if o.preview {
		fmt.Fprint(stderr, notifyPreview(out))
	}
	return nil
}
