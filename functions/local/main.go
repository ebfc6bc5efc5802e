// Command local runs one wxcloudenv invocation on this machine and prints
// the answer.
//
//	go run ./functions/local -emulate                      # against the built-in WeChat emulator
//	go run ./functions/local -emulate -event events/aws-http-api-v2.json
//	go run ./functions/local -payload '{"env":"prod-7c21be"}'  # against real WeChat, with WECHAT_* set
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	emulate := fs.Bool("emulate", false, "run against the built-in WeChat emulator, with no credentials")
	eventFile := fs.String("event", "", "replay the trigger event in `FILE` (- for standard input)")
	payload := fs.String("payload", "", "invoke with this direct `JSON` payload")
	timeout := fs.Duration("timeout", 30*time.Second, "the invocation's deadline, as a platform's function timeout")
	compact := fs.Bool("compact", false, "print the answer as it would be sent, without indenting")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if *eventFile != "" && *payload != "" {
		return errors.New("give -event or -payload, not both")
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

	if *emulate {
		srv := wechattest.NewServer()
		defer srv.Close()
		useEmulator(srv)
		fmt.Fprintf(stderr, "wxcloudenv: using the WeChat emulator at %s\n", srv.URL)
	}

	h := invoke.NewWithLog(invoke.PlatformLocal, stderr)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	out, err := h.Invoke(ctx, event)
	if err != nil {
		return err
	}
	if !*compact {
		var buf bytes.Buffer
		if json.Indent(&buf, out, "", "  ") == nil {
			out = buf.Bytes()
		}
	}
	_, err = fmt.Fprintf(stdout, "%s\n", out)
	return err
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
	os.Setenv("WECHAT_API_BASE_URL", srv.URL)
	os.Setenv("WECHAT_COMPONENT_APPID", wechattest.ComponentAppID)
	os.Setenv("WECHAT_COMPONENT_APPSECRET", wechattest.ComponentAppSecret)
	os.Setenv("WECHAT_COMPONENT_VERIFY_TICKET", wechattest.VerifyTicket)
	os.Setenv("WECHAT_AUTHORIZER_APPID", wechattest.AuthorizerAppID)
	os.Setenv("WECHAT_AUTHORIZER_REFRESH_TOKEN", wechattest.AuthorizerRefreshToken)
}
