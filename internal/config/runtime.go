package config

import (
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// Runtime is what an invocation needs, built from one Config: the client and
// a token source per operation. Build it once and reuse it, so that minted
// tokens are cached across warm invocations.
type Runtime struct {
	Config *Config
	Client *wechat.Client
	// Tokens maps each operation to its token source. A source whose token
	// cannot be had from the configuration fails with kind config.
	Tokens map[string]wechat.TokenSource
	// Minted reports, per operation, whether its token is minted (true) or
	// static (false).
	Minted map[string]bool
}

// Build makes the Runtime for c. hc, when not nil, is the HTTP client to
// use, so that connections survive a rebuild.
func (c *Config) Build(hc *http.Client, opts ...wechat.Option) (*Runtime, error) {
	base := []wechat.Option{
		wechat.WithBaseURLs(c.BaseURLs...),
		wechat.WithTimeout(time.Duration(c.Timeout)),
		wechat.WithRetries(int(c.Retries)),
		wechat.WithMaxResponseBytes(int64(c.MaxResponseBytes)),
	}
	if hc != nil {
		base = append(base, wechat.WithHTTPClient(hc))
	}
	client, err := wechat.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, err
	}
	rt := &Runtime{Config: c, Client: client, Tokens: map[string]wechat.TokenSource{}, Minted: map[string]bool{}}

	component, componentMinted := c.componentSource(client)
	rt.Tokens[wechat.OpDescribeCloudBaseRunEnvs] = component
	rt.Minted[wechat.OpDescribeCloudBaseRunEnvs] = componentMinted
	rt.Tokens[wechat.OpGetEnvInfo], rt.Minted[wechat.OpGetEnvInfo] = c.accessSource(client, component)
	return rt, nil
}

func configError(op, msg string) wechat.TokenSource {
	return wechat.ErrorTokenSource(&wechat.Error{Kind: wechat.KindConfig, Op: op, Message: msg})
}

// componentSource: WECHAT_COMPONENT_ACCESS_TOKEN, else the component
// credentials.
func (c *Config) componentSource(client *wechat.Client) (wechat.TokenSource, bool) {
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
func (c *Config) accessSource(client *wechat.Client, component wechat.TokenSource) (wechat.TokenSource, bool) {
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

// Loader loads the configuration and keeps the Runtime built from it for as
// long as the variables stay the same. On SCF the platform may deliver the
// function's variables with each invocation; the Loader notices and
// rebuilds. It is safe for concurrent use.
type Loader struct {
	// HTTPClient is shared by every Runtime the Loader builds.
	HTTPClient *http.Client
	// Options are passed to every client the Loader builds.
	Options []wechat.Option

	mu  sync.Mutex
	key string
	rt  *Runtime
	err error
}

// Load returns the Runtime for the current environment.
func (l *Loader) Load() (*Runtime, error) {
	key := fingerprint()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.key == key && (l.rt != nil || l.err != nil) {
		return l.rt, l.err
	}
	if l.HTTPClient == nil {
		l.HTTPClient = &http.Client{Transport: wechat.NewTransport()}
	}
	l.key = key
	c, err := Load()
	if err != nil {
		l.rt, l.err = nil, err
		return nil, err
	}
	l.rt, l.err = c.Build(l.HTTPClient, l.Options...)
	return l.rt, l.err
}

// fingerprint joins the values of every variable Config reads.
func fingerprint() string {
	var b strings.Builder
	for _, k := range Variables {
		v, ok := os.LookupEnv(k)
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
