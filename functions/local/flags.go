package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

const usage = `usage: go run ./functions/local [flags]

Runs one wxcloudenv invocation in this process and prints the answer on
standard output (an HTTP answer's body shown as JSON), with the log line and
a summary (operations, items, alerts, failures) on standard error. Without
-emulate it calls the real WeChat with the WECHAT_* variables of docs/contract.md#configuration.

With -serve it runs bin/bootstrap under the AWS Lambda Runtime Interface
Emulator instead, until interrupted; call it with
  curl -s -d @events/aws-http-api-v2.json http://ADDR/2015-03-31/functions/function/invocations

Scenarios (-emulate): demo (default: environment prod-7c21be is HALTED, one
alert), healthy (every environment NORMAL), outage (getenvinfo answers HTTP
503, describecloudbaserunenvs errcode 61004), fleet (WXCLOUDENV_AUTHORIZERS=all
over four authorizers: one with a HALTED environment, one whose
authorization was revoked, errcode 61023).

-store URL sets WXCLOUDENV_STORE (memory, file:///abs/path, redis://…,
dynamodb://TABLE). -runs N invokes N times in a row, each with a fresh
handler as a cold start would be, against the same emulator: with a shared
store the runs after the first mint nothing (the emulator prints its mint
counts after each run). The emulator's tokens live only as long as this
process: a second "go run" with the same file store finds tokens the new
emulator never issued, so they are refused (errcode 40001) and minted again.

-robots APPID=URL[,URL…] gives an authorizer its own robots in the store
(as PUT …/authorizers/APPID/robots does; they get that authorizer's lines
only), -robots-delete APPID removes them, -robots-list prints them (kinds and
hosts) and exits; all three need a shared store (-store file:///abs/path).

-notify-preview prints the WeCom robot message the run's changes make
(internal/notify.Render), without sending anything.

Fault kinds (-fault OPERATION=KIND, repeatable; OPERATION is getenvinfo,
describecloudbaserunenvs, or a WeChat path such as /cgi-bin/component/api_component_token):
errcode:N (errcode N with HTTP 200), http:N (HTTP status N), timeout (never
answers), reset (closes the connection), garbage (an HTML page).

Flags:
`

// options are the runner's flags, checked.
type options struct {
	emulate    bool
	scenario   string
	storeURL   string
	runs       int
	preview    bool
	variables  bool
	faults     []string
	event      []byte // the trigger event; {} by default
	timeout    time.Duration
	compact    bool
	serve      string
	rie        string
	bootstrap  string
	queued     bool
	statusAddr string
	every      time.Duration
	owners     robotFlags
}

// errHelp is what parseFlags returns for -h: the usage is printed, and
// the runner ends without an error.
var errHelp = flag.ErrHelp

// parseFlags reads args (stdin for -event -); usage and flag errors go to
// stderr.
func parseFlags(args []string, stdin io.Reader, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	o := &options{}
	fs.BoolVar(&o.emulate, "emulate", false, "run against the built-in WeChat emulator, with no credentials (real credentials in the environment are ignored)")
	fs.StringVar(&o.scenario, "scenario", "demo", "the emulator's `NAME`d data: demo, healthy, outage or fleet (with -emulate)")
	fs.StringVar(&o.storeURL, "store", "", "the shared store's `URL` (sets WXCLOUDENV_STORE): memory, file:///abs/path, redis://…, dynamodb://TABLE")
	fs.IntVar(&o.runs, "runs", 1, "invoke `N` times in a row, each with a fresh handler (a cold start), printing each answer")
	fs.BoolVar(&o.preview, "notify-preview", false, "print the WeCom robot message the run's changes make, without sending it")
	fs.BoolVar(&o.variables, "variables", false, "list every configuration variable with its type, default and meaning, and exit")
	fs.Func("fault", "make the emulator fail `OPERATION=KIND` on every call (with -emulate; repeatable)", func(s string) error {
		o.faults = append(o.faults, s)
		return nil
	})
	eventFile := fs.String("event", "", "replay the trigger event in `FILE` (- for standard input); default a direct invocation {}")
	payload := fs.String("payload", "", "invoke with this direct `JSON` payload")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "the invocation's deadline, as a platform's function timeout")
	fs.BoolVar(&o.compact, "compact", false, "print the answer exactly as the platform would receive it (one line; an HTTP body stays an escaped string)")
	fs.StringVar(&o.serve, "serve", "", "run bin/bootstrap under the Runtime Interface Emulator listening on `ADDR` (e.g. 127.0.0.1:9000) until interrupted")
	fs.StringVar(&o.rie, "rie", "bin/aws-lambda-rie", "the Runtime Interface Emulator's `PATH` (with -serve; make rie installs it)")
	fs.StringVar(&o.bootstrap, "bootstrap", "bin/bootstrap", "the function's `PATH` (with -serve; make build writes it)")
	fs.StringVar(&o.statusAddr, "status", "", "after -runs runs, serve the status page and every HTTP route on `ADDR` (e.g. 127.0.0.1:8080) until interrupted")
	fs.DurationVar(&o.every, "every", 0, "with -status, run again at this `INTERVAL` (e.g. 1m)")
	o.owners.register(fs)
	fs.BoolVar(&o.queued, "queue", false, "show a queued fleet run (docs/queue.md): plan onto bin/goaws on loopback, work the batches here as Lambda's event source mapping would, print the run's robot message")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v (see -h)", fs.Args())
	}
	if o.variables {
		return o, nil
	}
	if *eventFile != "" && *payload != "" {
		return nil, errors.New("give -event or -payload, not both")
	}
	if !o.emulate && (len(o.faults) > 0 || setFlag(fs, "scenario")) {
		return nil, errors.New("-scenario and -fault need -emulate")
	}
	if o.runs < 1 {
		return nil, errors.New("-runs needs a positive number")
	}
	if o.serve != "" && (*eventFile != "" || *payload != "") {
		return nil, errors.New("-serve takes its events over HTTP, not from -event or -payload")
	}
	o.event = []byte("{}")
	switch {
	case *eventFile == "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("reading the event: %w", err)
		}
		o.event = b
	case *eventFile != "":
		b, err := os.ReadFile(*eventFile)
		if err != nil {
			return nil, fmt.Errorf("reading the event: %w", err)
		}
		o.event = b
	case *payload != "":
		o.event = []byte(*payload)
	}
	return o, nil
}

// setFlag reports whether the flag name was given.
func setFlag(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}
