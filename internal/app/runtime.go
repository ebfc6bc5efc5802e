// Package app builds what an invocation needs from the configuration: the
// WeChat client, each operation's token source and the shared store. Cache
// keeps the result for as long as the variables stay the same, so that
// minted tokens survive across warm invocations and SCF's per-invocation
// variables cause a rebuild only when they change.
package app

import (
	"context"
	"net/http"
	"strings"
	"sync"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/internal/push"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// Runtime is what an invocation needs, built from one Config.
type Runtime struct {
	Config *config.Config
	Client *wechat.Client
	// Tokens maps each operation to its token source. A source whose token
	// cannot be had from the configuration fails with kind config.
	Tokens map[string]wechat.TokenSource
	// Minted reports, per operation, whether its token is minted (true) or
	// static (false).
	Minted map[string]bool
	// Secrets are the configuration's secret values, for scrubbing.
	Secrets []string
	// Fleet is set when the configuration can mint authorizer tokens
	// (the component credentials); FleetErr says why not otherwise.
	Fleet    Fleet
	FleetErr *wechat.Error
	// Push handles WeChat's authorization-event push.
	Push *push.Handler
}

// Build makes the Runtime for c. hc, when not nil, is the HTTP client to
// use, so that connections survive a rebuild.
func Build(c *config.Config, hc *http.Client, opts ...wechat.Option) (*Runtime, error) {
	base := []wechat.Option{
		wechat.WithBaseURLs(c.BaseURLs...),
		wechat.WithTimeout(c.Timeout),
		wechat.WithRetries(c.Retries),
		wechat.WithMaxResponseBytes(c.MaxResponseBytes),
	}
	if hc != nil {
		base = append(base, wechat.WithHTTPClient(hc))
	}
	client, err := wechat.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, err
	}
	secrets := c.Secrets()
	wechat.KeepSecret(secrets...)
	rt := &Runtime{Config: c, Client: client, Tokens: map[string]wechat.TokenSource{}, Minted: map[string]bool{}, Secrets: secrets}
	component, componentMinted := componentSource(c, client)
	rt.Tokens[wechat.OpDescribeCloudBaseRunEnvs] = component
	rt.Minted[wechat.OpDescribeCloudBaseRunEnvs] = componentMinted
	rt.Tokens[wechat.OpGetEnvInfo], rt.Minted[wechat.OpGetEnvInfo] = accessSource(c, client, component)
	rt.FleetErr = &wechat.Error{Kind: wechat.KindConfig, Op: wechat.OpGetEnvInfo,
		Message: "a fleet run needs WECHAT_COMPONENT_APPID with WECHAT_COMPONENT_APPSECRET (or WECHAT_COMPONENT_ACCESS_TOKEN): the authorizers' tokens are minted with the component token"}
	return rt, nil
}

// failing is a token source for a token that cannot be had from the
// configuration: it fails with kind config.
type failing struct{ err *wechat.Error }

func (f failing) Token(context.Context) (*wechat.Token, error) { return nil, f.err }

func configError(op, msg string) wechat.TokenSource {
	return failing{&wechat.Error{Kind: wechat.KindConfig, Op: op, Message: msg}}
}

// componentSource: WECHAT_COMPONENT_ACCESS_TOKEN, else the component
// credentials.
func componentSource(c *config.Config, client *wechat.Client) (wechat.TokenSource, bool) {
	if c.ComponentAccessToken != "" {
		return wechat.StaticTokenSource(c.ComponentAccessToken), false
	}
	missing := missingOf(map[string]string{
		"WECHAT_COMPONENT_APPID": c.ComponentAppID, "WECHAT_COMPONENT_APPSECRET": c.ComponentAppSecret,
		"WECHAT_COMPONENT_VERIFY_TICKET": c.ComponentVerifyTicket,
	}, "WECHAT_COMPONENT_APPID", "WECHAT_COMPONENT_APPSECRET", "WECHAT_COMPONENT_VERIFY_TICKET")
	if len(missing) == 0 {
		return wechat.NewComponentTokenSource(client, c.ComponentAppID, c.ComponentAppSecret, c.ComponentVerifyTicket), true
	}
	if len(missing) == 3 {
		return configError(wechat.OpDescribeCloudBaseRunEnvs,
			"no component access token: set WECHAT_COMPONENT_ACCESS_TOKEN, or WECHAT_COMPONENT_APPID, WECHAT_COMPONENT_APPSECRET and WECHAT_COMPONENT_VERIFY_TICKET"), false
	}
	return configError(wechat.OpDescribeCloudBaseRunEnvs,
		"no component access token: the component credentials lack "+strings.Join(missing, ", ")+" (or set WECHAT_COMPONENT_ACCESS_TOKEN)"), false
}

// accessSource: WECHAT_ACCESS_TOKEN, else the authorizer credentials, else
// WECHAT_APPID and WECHAT_APPSECRET.
func accessSource(c *config.Config, client *wechat.Client, component wechat.TokenSource) (wechat.TokenSource, bool) {
	if c.AccessToken != "" {
		return wechat.StaticTokenSource(c.AccessToken), false
	}
	authorizer := c.AuthorizerAppID != "" || c.AuthorizerRefreshToken != ""
	app := c.AppID != "" && c.AppSecret != ""
	if authorizer && c.AuthorizerAppID != "" && c.AuthorizerRefreshToken != "" {
		if c.ComponentAppID == "" {
			return configError(wechat.OpGetEnvInfo,
				"minting the authorizer access token needs WECHAT_COMPONENT_APPID, with WECHAT_COMPONENT_ACCESS_TOKEN or the component credentials"), false
		}
		if c.ComponentAccessToken == "" && (c.ComponentAppSecret == "" || c.ComponentVerifyTicket == "") {
			return configError(wechat.OpGetEnvInfo,
				"minting the authorizer access token needs a component access token: set WECHAT_COMPONENT_ACCESS_TOKEN, or WECHAT_COMPONENT_APPSECRET and WECHAT_COMPONENT_VERIFY_TICKET"), false
		}
		return wechat.NewAuthorizerTokenSource(client, component, c.ComponentAppID, c.AuthorizerAppID, c.AuthorizerRefreshToken), true
	}
	if app {
		return wechat.NewStableTokenSource(client, c.AppID, c.AppSecret), true
	}
	switch {
	case authorizer && c.AuthorizerAppID == "":
		return configError(wechat.OpGetEnvInfo, "no access token for getenvinfo: WECHAT_AUTHORIZER_REFRESH_TOKEN is set but WECHAT_AUTHORIZER_APPID is not (or set WECHAT_ACCESS_TOKEN)"), false
	case authorizer:
		return configError(wechat.OpGetEnvInfo, "no access token for getenvinfo: WECHAT_AUTHORIZER_APPID is set but WECHAT_AUTHORIZER_REFRESH_TOKEN is not (or set WECHAT_ACCESS_TOKEN)"), false
	case c.AppID != "":
		return configError(wechat.OpGetEnvInfo, "no access token for getenvinfo: WECHAT_APPID is set but WECHAT_APPSECRET is not (or set WECHAT_ACCESS_TOKEN)"), false
	case c.AppSecret != "":
		return configError(wechat.OpGetEnvInfo, "no access token for getenvinfo: WECHAT_APPSECRET is set but WECHAT_APPID is not (or set WECHAT_ACCESS_TOKEN)"), false
	}
	return configError(wechat.OpGetEnvInfo,
		"no access token for getenvinfo: set WECHAT_ACCESS_TOKEN, or WECHAT_AUTHORIZER_APPID and WECHAT_AUTHORIZER_REFRESH_TOKEN (with the component credentials), or WECHAT_APPID and WECHAT_APPSECRET"), false
}

func missingOf(vals map[string]string, order ...string) []string {
	var out []string
	for _, k := range order {
		if vals[k] == "" {
			out = append(out, k)
		}
	}
	return out
}

// Cache parses the configuration and keeps the Runtime built from it for as
// long as the variables stay the same. It is safe for concurrent use.
type Cache struct {
	// HTTPClient is shared by every Runtime the Cache builds.
	HTTPClient *http.Client
	// Options are passed to every client the Cache builds.
	Options []wechat.Option

	mu  sync.Mutex
	key string
	rt  *Runtime
	err error
}

// Get returns the Runtime for the variables lookup reads.
func (c *Cache) Get(lookup config.Lookup) (*Runtime, error) {
	key := fingerprint(lookup)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.key == key && (c.rt != nil || c.err != nil) {
		return c.rt, c.err
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Transport: wechat.NewTransport()}
	}
	c.key = key
	cfg, err := config.Parse(lookup)
	if err != nil {
		c.rt, c.err = nil, err
		return nil, err
	}
	c.rt, c.err = Build(cfg, c.HTTPClient, c.Options...)
	return c.rt, c.err
}

// fingerprint joins the values of every variable the configuration reads.
func fingerprint(lookup config.Lookup) string {
	var b strings.Builder
	for _, k := range config.Variables {
		v, ok := lookup(k)
		if ok {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
		b.WriteString(v)
		b.WriteByte(0)
	}
	return b.String()
}

// Fleet supplies a fleet run (docs/contract.md#the-fleet): who the
// platform's authorizers are, and each one's token.
type Fleet interface {
	// All lists every authorizer of the platform: those authorization
	// events keep in the store, merged with WeChat's authorizer list. It
	// returns what it could read even when it also returns an error.
	All(ctx context.Context) (appids []string, err error)
	// Source returns the token source of one authorizer.
	Source(appid string) wechat.TokenSource
	// Preload reads the stored tokens of many authorizers in batches, so
	// that Source needs no round trip of its own for them.
	Preload(ctx context.Context, appids []string) error
}
