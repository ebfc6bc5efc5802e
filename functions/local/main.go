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
package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alerts"
	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/internal/config/configtest"
	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/internal/notify"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

//go:embed scenarios/*.json
var scenarioFiles embed.FS

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "local:", scrubError(err, os.LookupEnv))
		os.Exit(1)
	}
}

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

-notify-preview prints the WeCom robot message the run's changes make
(internal/notify.Render), without sending anything.

Fault kinds (-fault OPERATION=KIND, repeatable; OPERATION is getenvinfo,
describecloudbaserunenvs, or a WeChat path such as /cgi-bin/component/api_component_token):
errcode:N (errcode N with HTTP 200), http:N (HTTP status N), timeout (never
answers), reset (closes the connection), garbage (an HTML page).

Flags:
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	emulate := fs.Bool("emulate", false, "run against the built-in WeChat emulator, with no credentials (real credentials in the environment are ignored)")
	scenario := fs.String("scenario", "demo", "the emulator's `NAME`d data: demo, healthy, outage or fleet (with -emulate)")
	storeURL := fs.String("store", "", "the shared store's `URL` (sets WXCLOUDENV_STORE): memory, file:///abs/path, redis://…, dynamodb://TABLE")
	runs := fs.Int("runs", 1, "invoke `N` times in a row, each with a fresh handler (a cold start), printing each answer")
	preview := fs.Bool("notify-preview", false, "print the WeCom robot message the run's changes make, without sending it")
	variables := fs.Bool("variables", false, "list every configuration variable with its type, default and meaning, and exit")
	var faults []string
	fs.Func("fault", "make the emulator fail `OPERATION=KIND` on every call (with -emulate; repeatable)", func(s string) error {
		faults = append(faults, s)
		return nil
	})
	eventFile := fs.String("event", "", "replay the trigger event in `FILE` (- for standard input); default a direct invocation {}")
	payload := fs.String("payload", "", "invoke with this direct `JSON` payload")
	timeout := fs.Duration("timeout", 30*time.Second, "the invocation's deadline, as a platform's function timeout")
	compact := fs.Bool("compact", false, "print the answer exactly as the platform would receive it (one line; an HTTP body stays an escaped string)")
	serve := fs.String("serve", "", "run bin/bootstrap under the Runtime Interface Emulator listening on `ADDR` (e.g. 127.0.0.1:9000) until interrupted")
	rie := fs.String("rie", "bin/aws-lambda-rie", "the Runtime Interface Emulator's `PATH` (with -serve; make rie installs it)")
	bootstrap := fs.String("bootstrap", "bin/bootstrap", "the function's `PATH` (with -serve; make build writes it)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v (see -h)", fs.Args())
	}
	if *variables {
		return config.Usage(stdout)
	}
	if *eventFile != "" && *payload != "" {
		return errors.New("give -event or -payload, not both")
	}
	if !*emulate && (len(faults) > 0 || setFlag(fs, "scenario")) {
		return errors.New("-scenario and -fault need -emulate")
	}
	if *runs < 1 {
		return errors.New("-runs needs a positive number")
	}
	if *serve != "" && (*eventFile != "" || *payload != "") {
		return errors.New("-serve takes its events over HTTP, not from -event or -payload")
	}

	event := []byte("{}")
	switch {
	case *eventFile == "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return fmt.Errorf("reading the event: %w", err)
		}
		event = b
	case *eventFile != "":
		b, err := os.ReadFile(*eventFile)
		if err != nil {
			return fmt.Errorf("reading the event: %w", err)
		}
		event = b
	case *payload != "":
		event = []byte(*payload)
	}

	if *storeURL != "" {
		os.Setenv("WXCLOUDENV_STORE", *storeURL)
	}
	var emu *wechattest.Server
	if *emulate {
		srv := wechattest.NewServer()
		emu = srv
		defer srv.Close()
		if err := setScenario(srv, *scenario); err != nil {
			return err
		}
		for _, f := range faults {
			if err := addFault(srv, f); err != nil {
				return err
			}
		}
		useEmulator(srv)
		fmt.Fprintf(stderr, "wxcloudenv: using the WeChat emulator at %s, scenario %s\n", srv.URL, *scenario)
	}

	if *serve != "" {
		return serveRIE(ctx, *rie, *bootstrap, *serve, stderr)
	}

	for i := range *runs {
		if *runs > 1 {
			fmt.Fprintf(stderr, "wxcloudenv: run %d of %d\n", i+1, *runs)
		}
		if err := runOnce(ctx, event, *timeout, *compact, *preview, emu, stdout, stderr); err != nil {
			return err
		}
	}
	return nil
}

// runOnce invokes a fresh handler once and prints its answer and summary.
func runOnce(ctx context.Context, event []byte, timeout time.Duration, compact, preview bool, emu *wechattest.Server, stdout, stderr io.Writer) error {
	var before map[string]int
	if emu != nil {
		before = mintCounts(emu)
	}
	h := invoke.NewWithLog(invoke.PlatformLocal, stderr)
	ictx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := h.Invoke(ictx, event)
	if err != nil {
		return err
	}
	if compact {
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
	if preview {
		fmt.Fprint(stderr, notifyPreview(out))
	}
	return nil
}

func mintCounts(srv *wechattest.Server) map[string]int {
	m := map[string]int{}
	for _, k := range []string{"component", "authorizer", "access"} {
		m[k] = srv.Mints(k)
	}
	return m
}

// notifyPreview renders the message a WeCom robot would get for the run's
// changes, or says there is none.
func notifyPreview(out []byte) string {
	var wrapper map[string]json.RawMessage
	if json.Unmarshal(out, &wrapper) != nil {
		return "notify preview: the answer is not an event\n"
	}
	if body, ok := httpBody(wrapper); ok {
		out = body
	}
	var ev invoke.Event
	if json.Unmarshal(out, &ev) != nil {
		return "notify preview: the answer is not an event\n"
	}
	r := notify.Report{Platform: ev.Platform, Function: "wxcloudenv"}
	for _, c := range ev.Changes {
		if c.Change == alerts.ChangeReminder {
			r.Reminders = append(r.Reminders, c)
		} else {
			r.Changes = append(r.Changes, c)
		}
	}
	if r.Empty() {
		return "notify preview: no changes, no message would be sent\n"
	}
	m := notify.Render(notify.WeCom, r)
	return "notify preview (WeCom markdown, not sent):\n" + m.Text + "\n"
}

func setFlag(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// setScenario loads one of the emulator's named data sets.
func setScenario(srv *wechattest.Server, name string) error {
	switch name {
	case "healthy":
	case "demo":
		b, err := scenarioFiles.ReadFile("scenarios/demo-getenvinfo.json")
		if err != nil {
			return fmt.Errorf("scenario demo: %w", err)
		}
		srv.SetAnswer(wechat.GetEnvInfoPath, b)
	case "fleet":
		ids := srv.SetFleet(4)
		srv.SetAuthorizer(ids[1], wechattest.Authorizer{Status: "HALTED"})
		srv.SetAuthorizer(ids[2], wechattest.Authorizer{Revoked: true})
		os.Setenv("WXCLOUDENV_AUTHORIZERS", "all")
	case "outage":
		srv.Always(wechat.GetEnvInfoPath, wechattest.Fault{Status: 503, Body: []byte("<html><body>503 Service Unavailable</body></html>"), ContentType: "text/html"})
		srv.Always(wechat.DescribeCloudBaseRunEnvsPath, wechattest.Fault{ErrCode: 61004, ErrMsg: "access clientip is not registered"})
	default:
		return fmt.Errorf("unknown scenario %q: want demo, healthy, outage or fleet", name)
	}
	return nil
}

// addFault parses OPERATION=KIND and makes the emulator fail that way.
func addFault(srv *wechattest.Server, spec string) error {
	op, kind, ok := strings.Cut(spec, "=")
	if !ok {
		return fmt.Errorf("-fault %q: want OPERATION=KIND, e.g. getenvinfo=errcode:40001", spec)
	}
	path := op
	switch op {
	case "getenvinfo":
		path = wechat.GetEnvInfoPath
	case "describecloudbaserunenvs":
		path = wechat.DescribeCloudBaseRunEnvsPath
	default:
		if !strings.HasPrefix(op, "/") {
			return fmt.Errorf("-fault %q: unknown operation %q (getenvinfo, describecloudbaserunenvs or a /path)", spec, op)
		}
	}
	name, arg, _ := strings.Cut(kind, ":")
	var f wechattest.Fault
	switch name {
	case "errcode", "http":
		n, err := strconv.Atoi(arg)
		if err != nil || n == 0 {
			return fmt.Errorf("-fault %q: %s needs a number, e.g. %s:%s", spec, name, name, map[string]string{"errcode": "40001", "http": "503"}[name])
		}
		if name == "errcode" {
			f = wechattest.Fault{ErrCode: n, ErrMsg: "injected by -fault"}
		} else {
			if n < 100 || n > 599 {
				return fmt.Errorf("-fault %q: HTTP status %d out of range", spec, n)
			}
			f = wechattest.Fault{Status: n, Body: []byte("injected by -fault")}
		}
	case "timeout":
		f = wechattest.Fault{Hang: true}
	case "reset":
		f = wechattest.Fault{Reset: true}
	case "garbage":
		f = wechattest.Fault{Body: []byte("<html><body>portal</body></html>"), ContentType: "text/html"}
	default:
		return fmt.Errorf("-fault %q: unknown kind %q (errcode:N, http:N, timeout, reset, garbage)", spec, kind)
	}
	srv.Always(path, f)
	return nil
}

// readable shows an HTTP answer's body as JSON inside its wrapper, indented.
func readable(out []byte) []byte {
	var wrapper map[string]json.RawMessage
	if json.Unmarshal(out, &wrapper) == nil {
		if body, ok := httpBody(wrapper); ok && json.Valid(body) {
			wrapper["body"] = body
			if b, err := json.Marshal(wrapper); err == nil {
				out = b
			}
		}
	}
	var buf bytes.Buffer
	if json.Indent(&buf, out, "", "  ") != nil {
		return out
	}
	return buf.Bytes()
}

// httpBody returns the decoded body of a platform's HTTP answer.
func httpBody(wrapper map[string]json.RawMessage) ([]byte, bool) {
	if _, ok := wrapper["statusCode"]; !ok {
		return nil, false
	}
	var body string
	if json.Unmarshal(wrapper["body"], &body) != nil {
		return nil, false
	}
	var b64 bool
	json.Unmarshal(wrapper["isBase64Encoded"], &b64)
	if b64 {
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return nil, false
		}
		return b, true
	}
	return []byte(body), true
}

// summaryError is what the summary reads of an error in an event.
type summaryError struct {
	Kind       string `json:"kind"`
	ErrCode    int    `json:"errcode"`
	HTTPStatus int    `json:"http_status"`
}

func (e *summaryError) String() string {
	if e == nil {
		return ""
	}
	s := ": " + e.Kind
	if e.ErrCode != 0 {
		s += " errcode " + strconv.Itoa(e.ErrCode)
	}
	if e.HTTPStatus != 0 {
		s += " HTTP " + strconv.Itoa(e.HTTPStatus)
	}
	return s
}

// eventSummary is what the summary reads of an event.
type eventSummary struct {
	OK      *bool `json:"ok"`
	Results map[string]struct {
		OK          bool `json:"ok"`
		Total       int  `json:"total"`
		Failed      int  `json:"failed"`
		Authorizers map[string]struct {
			OK       bool                       `json:"ok"`
			Response map[string]json.RawMessage `json:"response"`
			Error    *summaryError              `json:"error"`
		} `json:"authorizers"`
		Response map[string]json.RawMessage `json:"response"`
		Error    *summaryError              `json:"error"`
	} `json:"results"`
	Alerts []invoke.Alert `json:"alerts"`
}

// summary returns the lines printed after the answer: one with the counts,
// then one per alert and failure. It is empty when out is no event.
func summary(out []byte) string {
	var wrapper map[string]json.RawMessage
	if json.Unmarshal(out, &wrapper) != nil {
		return ""
	}
	if body, ok := httpBody(wrapper); ok {
		out = body
	}
	var ev eventSummary
	if json.Unmarshal(out, &ev) != nil || ev.Results == nil {
		return ""
	}
	ops := make([]string, 0, len(ev.Results))
	for op := range ev.Results {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	var items, failures int
	var lines []string
	for _, op := range ops {
		r := ev.Results[op]
		if r.Authorizers != nil {
			lines = append(lines, fmt.Sprintf("  %s over %d authorizers, %d failed", op, r.Total, r.Failed))
			ids := make([]string, 0, len(r.Authorizers))
			for id := range r.Authorizers {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			for _, id := range ids {
				a := r.Authorizers[id]
				if !a.OK {
					lines = append(lines, "  FAILED "+op+" "+id+a.Error.String())
				}
				for _, key := range []string{"info_list", "env_list"} {
					var list []json.RawMessage
					if json.Unmarshal(a.Response[key], &list) == nil {
						items += len(list)
					}
				}
			}
			if !r.OK {
				failures++
			}
			continue
		}
		if !r.OK {
			failures++
			lines = append(lines, "  FAILED "+op+r.Error.String())
			continue
		}
		for _, key := range []string{"info_list", "env_list"} {
			var list []json.RawMessage
			if json.Unmarshal(r.Response[key], &list) == nil {
				items += len(list)
			}
		}
	}
	for _, a := range ev.Alerts {
		if a.Authorizer != "" {
			lines = append(lines, "  ALERT "+a.Authorizer+" "+a.Message)
		} else {
			lines = append(lines, "  ALERT "+a.Message)
		}
	}
	head := fmt.Sprintf("summary: %d operations, %d items, %d alerts, %d failures", len(ops), items, len(ev.Alerts), failures)
	return head + "\n" + strings.Join(append(lines, ""), "\n")
}

// serveRIE runs bootstrap under the Runtime Interface Emulator at addr with
// this process's environment, until ctx ends.
func serveRIE(ctx context.Context, rie, bootstrap, addr string, stderr io.Writer) error {
	for _, p := range []struct{ path, make string }{{rie, "make rie"}, {bootstrap, "make build"}} {
		if _, err := os.Stat(p.path); err != nil {
			return fmt.Errorf("%s is missing (%s installs it): %w", p.path, p.make, err)
		}
	}
	cmd := exec.CommandContext(ctx, rie, "--runtime-interface-emulator-address", addr, bootstrap)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	fmt.Fprintf(stderr, "wxcloudenv: serving %s under %s; try\n  curl -s -d @events/aws-http-api-v2.json http://%s/2015-03-31/functions/function/invocations\n", bootstrap, rie, addr)
	if err := cmd.Run(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("running %s: %w", rie, err)
	}
	return nil
}

// credentialVars are replaced in emulation, so that real credentials in
// the environment never reach the emulator.
var credentialVars = []string{
	"WECHAT_ACCESS_TOKEN", "WECHAT_COMPONENT_ACCESS_TOKEN", "WECHAT_COMPONENT_APPID", "WECHAT_COMPONENT_APPSECRET",
	"WECHAT_COMPONENT_VERIFY_TICKET", "WECHAT_AUTHORIZER_APPID", "WECHAT_AUTHORIZER_REFRESH_TOKEN",
	"WECHAT_APPID", "WECHAT_APPSECRET",
}

// useEmulator points the configuration at srv with the emulator's
// credentials, so that both operations mint their tokens as in production:
// the component token from the platform's credentials, the authorizer token
// from it and the refresh token.
func useEmulator(srv *wechattest.Server) {
	for _, k := range credentialVars {
		os.Unsetenv(k)
	}
	for k, v := range configtest.MintingVars(srv.URL) {
		os.Setenv(k, v)
	}
}
