package main

import (
	"embed"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/wxcloudenv/wxcloudenv/internal/config/configtest"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

//go:embed scenarios/*.json
var scenarioFiles embed.FS

// setScenario loads one of the emulator's named data sets.
func setScenario(srv *wechattest.Server, env *environment, name string) error {
	switch name {
	case "healthy":
	case "demo":
		b, err := scenarioFiles.ReadFile("scenarios/demo-getenvinfo.json")
		if err != nil {
			return fmt.Errorf("scenario demo: %w", err)
		}
		srv.SetAnswer(wechat.GetEnvInfoPath, b)
	case "fleet":
		ids := srv.SetFleet(3) // and the emulator's own authorizer: four
		srv.SetAuthorizer(ids[1], wechattest.Authorizer{Status: "HALTED"})
		srv.SetAuthorizer(ids[2], wechattest.Authorizer{Revoked: true})
		env.set("WXCLOUDENV_AUTHORIZERS", "all")
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
func useEmulator(srv *wechattest.Server, env *environment) {
	for _, k := range credentialVars {
		env.unset(k)
	}
	for k, v := range configtest.MintingVars(srv.URL) {
		env.set(k, v)
	}
}

// environment is the configuration the runner hands the handler (as
// Handler.Lookup) and the RIE's function: the process environment, with
// the flags' and the emulator's variables over it. The process environment
// itself is never changed.
type environment struct {
	vars map[string]string
	gone map[string]bool
}

func newEnvironment() *environment {
	return &environment{vars: map[string]string{}, gone: map[string]bool{}}
}

func (e *environment) set(k, v string) { e.vars[k] = v; delete(e.gone, k) }

func (e *environment) unset(k string) { delete(e.vars, k); e.gone[k] = true }

// lookup is os.LookupEnv over the environment.
func (e *environment) lookup(k string) (string, bool) {
	if v, ok := e.vars[k]; ok {
		return v, true
	}
	if e.gone[k] {
		return "", false
	}
	return os.LookupEnv(k)
}

// environ is os.Environ over the environment, for a child process.
func (e *environment) environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := e.vars[k]; !ok && !e.gone[k] {
			out = append(out, kv)
		}
	}
	for k, v := range e.vars {
		out = append(out, k+"="+v)
	}
	return out
}
