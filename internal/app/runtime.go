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
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alerts"
	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/internal/history"
	"github.com/wxcloudenv/wxcloudenv/internal/names"
	"github.com/wxcloudenv/wxcloudenv/internal/notify"
	"github.com/wxcloudenv/wxcloudenv/internal/push"
	"github.com/wxcloudenv/wxcloudenv/internal/silence"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/tokens"
	"github.com/wxcloudenv/wxcloudenv/internal/warnings"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// Runtime is what an invocation needs, built from one Config.
type Runtime struct {
	Config *config.Config
	Client *wechat.Client
	// Store is the shared state (WXCLOUDENV_STORE) and Keeper the tokens
	// kept in it.
	Store  store.Store
	Keeper *tokens.Keeper
	// Tokens maps each operation to its token source. A source whose token
	// cannot be had from the configuration fails with kind config.
	Tokens map[string]wechat.TokenSource
	// Secrets are the configuration's secret values, for scrubbing.
	Secrets []string
	// Scrubber keeps every secret the runtime sees: the configuration's
	// for its life, tokens until they expire. Scrub every text that leaves
	// the process with it.
	Scrubber *wechat.Scrubber
	// Fleet is set when the configuration can mint authorizer tokens
	// (the component credentials); FleetErr says why not otherwise.
	Fleet    Fleet
	FleetErr *wechat.Error
	// Push handles WeChat's authorization-event push.
	Push *push.Handler
	// Notifier sends changes to the robots of WXCLOUDENV_NOTIFY (no
	// channels when unset).
	Notifier *notify.Notifier
	// Warnings checks the platform before its tokens break (verify ticket,
	// quotas); nil when nothing applies.
	Warnings *warnings.Checker
	// Alerts is the alert path: state in Store, messages by Notifier.
	Alerts *alerts.Tracker
	// Names keeps the fleet's authorizers' names (api_get_authorizer_info)
	// in Store; nil when there is no fleet.
	Names *names.Book
	// History writes the runs the status page draws, coalescing quiet
	// single runs (internal/history).
	History *history.Recorder
}

// Deps are what a Runtime shares with the ones built before it.
type Deps struct {
	// HTTPClient is used by the WeChat client and the robots, so that
	// connections survive a rebuild.
	HTTPClient *http.Client
	// Options are passed to the WeChat client.
	Options []wechat.Option
	// Store is the opened WXCLOUDENV_STORE.
	Store store.Store
	// Scrubber is shared by the runtimes of one process (a new one when
	// nil).
	Scrubber *wechat.Scrubber
}

// Build makes the Runtime for c.
func Build(c *config.Config, d Deps) (*Runtime, error) {
	base := []wechat.Option{
		wechat.WithBaseURLs(c.BaseURLs...),
		wechat.WithTimeout(c.Timeout),
		wechat.WithRetries(c.Retries),
		wechat.WithMaxResponseBytes(c.MaxResponseBytes),
	}
	if d.HTTPClient != nil {
		base = append(base, wechat.WithHTTPClient(d.HTTPClient))
	}
	sc := d.Scrubber
	if sc == nil {
		sc = wechat.NewScrubber()
	}
	base = append(base, wechat.WithScrubber(sc))
	client, err := wechat.NewClient(append(base, d.Options...)...)
	if err != nil {
		return nil, err
	}
	secrets := append(c.Secrets(), store.Secrets(c.Store)...)
	sc.Keep(secrets...)
	st := d.Store
	if st == nil {
		st = store.NewMemory()
	}
	keeper, err := tokens.New(tokens.Options{Store: st, Prefix: c.StorePrefix, Client: client,
		Layout: tokens.Layout(c.TokenLayout), KeyPrefix: c.TokenKeyPrefix})
	if err != nil {
		return nil, &config.Error{Variable: "WXCLOUDENV_TOKEN_LAYOUT", Problem: "the store does not support this layout; following another service needs redis:// or rediss://"}
	}
	chans, err := notify.Parse(strings.Join(c.Notify, ","), notify.Secrets{DingTalk: c.NotifyDingTalkSecret, Feishu: c.NotifyFeishuSecret})
	if err != nil {
		return nil, err
	}
	for _, ch := range chans {
		sc.Keep(ch.Secrets()...)
	}
	rt := &Runtime{Config: c, Client: client, Store: st, Keeper: keeper, Tokens: map[string]wechat.TokenSource{},
		Secrets: secrets, Scrubber: sc,
		Notifier: &notify.Notifier{Channels: chans, HTTP: d.HTTPClient, Store: st, Prefix: c.StorePrefix, Scrubber: sc}}
	rt.Alerts = &alerts.Tracker{Store: st, Prefix: c.StorePrefix, Repeat: c.NotifyRepeat, Notifier: rt.Notifier, GroupMin: c.NotifyGroupMin, Scrubber: sc}
	if c.APIKey != "" {
		// Silences can be made only through the management routes,
		// which need the key: without it, no run reads them.
		rt.Alerts.Silences = &silence.Book{Store: st, Prefix: c.StorePrefix}
	}
	b := builder{c: c, client: client, keeper: keeper}
	component := b.componentSource()
	rt.Tokens[wechat.OpDescribeCloudBaseRunEnvs] = component
	rt.Tokens[wechat.OpGetEnvInfo] = b.accessSource(component)
	if _, failed := component.(failing); failed || c.ComponentAppID == "" {
		rt.FleetErr = &wechat.Error{Kind: wechat.KindConfig, Op: wechat.OpGetEnvInfo,
			Message: "a fleet run needs WECHAT_COMPONENT_APPID with the component credentials (or WECHAT_COMPONENT_ACCESS_TOKEN): the authorizers' tokens are minted with the component token"}
	} else {
		f := &fleet{keeper: keeper, client: client, component: component, componentAppID: c.ComponentAppID,
			knownAppID: c.AuthorizerAppID, knownRefresh: c.AuthorizerRefreshToken}
		keeper.SetRefreshLister(f.listedRefresh)
		rt.Fleet = f
		rt.Names = &names.Book{Store: st, Prefix: c.StorePrefix, Memo: &names.Memo{},
			Lookup: func(ctx context.Context, appid string) (*wechat.AuthorizerInfo, error) {
				return client.GetAuthorizerInfo(ctx, component, c.ComponentAppID, appid)
			}}
	}
	rt.History = &history.Recorder{Prefix: c.StorePrefix}
	rt.Warnings = warningsFor(c, client, keeper, component, st, rt.Fleet != nil)
	rt.Push = &push.Handler{Token: c.ComponentToken, EncodingAESKey: c.ComponentEncodingAESKey, ComponentAppID: c.ComponentAppID,
		Keeper: pushKeeper{keeper}, Store: st, Prefix: c.StorePrefix,
		Exchange: func(ctx context.Context, code string) (push.Authorization, error) {
			a, err := client.QueryAuth(ctx, component, c.ComponentAppID, code)
			if err != nil {
				return push.Authorization{}, err
			}
			return push.Authorization{AuthorizerAppID: a.AuthorizerAppID, AccessToken: a.AccessToken.Value.Reveal(),
				Expiry: a.AccessToken.Expiry, RefreshToken: a.RefreshToken.Reveal()}, nil
		}}
	return rt, nil
}

// pushKeeper keeps what authorization events bring with the Keeper.
type pushKeeper struct{ k *tokens.Keeper }

func (p pushKeeper) SaveTicket(ctx context.Context, componentAppID, ticket string, created time.Time) (bool, error) {
	return p.k.SaveTicket(ctx, componentAppID, ticket, created)
}

func (p pushKeeper) SaveAuthorization(ctx context.Context, componentAppID string, a push.Authorization) error {
	return p.k.SaveAuthorization(ctx, componentAppID, a.AuthorizerAppID, a.AccessToken, time.Until(a.Expiry), a.RefreshToken)
}

func (p pushKeeper) Forget(ctx context.Context, componentAppID, authorizerAppID string) error {
	return p.k.Forget(ctx, componentAppID, authorizerAppID)
}

// builder chooses each operation's token source from the configuration.
type builder struct {
	c      *config.Config
	client *wechat.Client
	keeper *tokens.Keeper
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
func (b builder) componentSource() wechat.TokenSource {
	c := b.c
	if c.ComponentAccessToken != "" {
		return wechat.StaticTokenSource(c.ComponentAccessToken)
	}
	if c.TokenLayout != config.LayoutOwn {
		if c.ComponentAppID == "" {
			return configError(wechat.OpDescribeCloudBaseRunEnvs, "following another service's component token needs WECHAT_COMPONENT_APPID")
		}
		return b.keeper.Component(c.ComponentAppID, "", "")
	}
	// A ticket pushed to the function, or kept in a shared store by
	// another service, stands in for WECHAT_COMPONENT_VERIFY_TICKET.
	ticketElsewhere := c.StoreScheme() != "memory" || c.ComponentToken != "" && c.ComponentEncodingAESKey != ""
	if ticketElsewhere && c.ComponentAppID != "" && c.ComponentAppSecret != "" {
		return b.keeper.Component(c.ComponentAppID, c.ComponentAppSecret, c.ComponentVerifyTicket)
	}
	missing := missingOf(map[string]string{
		"WECHAT_COMPONENT_APPID": c.ComponentAppID, "WECHAT_COMPONENT_APPSECRET": c.ComponentAppSecret,
		"WECHAT_COMPONENT_VERIFY_TICKET": c.ComponentVerifyTicket,
	}, "WECHAT_COMPONENT_APPID", "WECHAT_COMPONENT_APPSECRET", "WECHAT_COMPONENT_VERIFY_TICKET")
	if len(missing) == 0 {
		return b.keeper.Component(c.ComponentAppID, c.ComponentAppSecret, c.ComponentVerifyTicket)
	}
	if len(missing) == 3 {
		return configError(wechat.OpDescribeCloudBaseRunEnvs,
			"no component access token: set WECHAT_COMPONENT_ACCESS_TOKEN, or WECHAT_COMPONENT_APPID, WECHAT_COMPONENT_APPSECRET and WECHAT_COMPONENT_VERIFY_TICKET")
	}
	return configError(wechat.OpDescribeCloudBaseRunEnvs,
		"no component access token: the component credentials lack "+strings.Join(missing, ", ")+" (or set WECHAT_COMPONENT_ACCESS_TOKEN)")
}

// accessSource: WECHAT_ACCESS_TOKEN, else the authorizer credentials, else
// WECHAT_APPID and WECHAT_APPSECRET.
func (b builder) accessSource(component wechat.TokenSource) wechat.TokenSource {
	c := b.c
	if c.AccessToken != "" {
		return wechat.StaticTokenSource(c.AccessToken)
	}
	if c.TokenLayout != config.LayoutOwn && c.AuthorizerAppID != "" {
		if c.ComponentAppID == "" {
			return configError(wechat.OpGetEnvInfo, "following another service's authorizer token needs WECHAT_COMPONENT_APPID")
		}
		return b.keeper.Authorizer(component, c.ComponentAppID, c.AuthorizerAppID, "")
	}
	authorizer := c.AuthorizerAppID != "" || c.AuthorizerRefreshToken != ""
	app := c.AppID != "" && c.AppSecret != ""
	if authorizer && c.AuthorizerAppID != "" && c.AuthorizerRefreshToken != "" {
		if c.ComponentAppID == "" {
			return configError(wechat.OpGetEnvInfo,
				"minting the authorizer access token needs WECHAT_COMPONENT_APPID, with WECHAT_COMPONENT_ACCESS_TOKEN or the component credentials")
		}
		if _, failed := component.(failing); failed {
			return configError(wechat.OpGetEnvInfo,
				"minting the authorizer access token needs a component access token: set WECHAT_COMPONENT_ACCESS_TOKEN, or WECHAT_COMPONENT_APPSECRET and WECHAT_COMPONENT_VERIFY_TICKET")
		}
		return b.keeper.Authorizer(component, c.ComponentAppID, c.AuthorizerAppID, c.AuthorizerRefreshToken)
	}
	if app {
		return b.keeper.Stable(c.AppID, c.AppSecret)
	}
	switch {
	case authorizer && c.AuthorizerAppID == "":
		return configError(wechat.OpGetEnvInfo, "no access token for getenvinfo: WECHAT_AUTHORIZER_REFRESH_TOKEN is set but WECHAT_AUTHORIZER_APPID is not (or set WECHAT_ACCESS_TOKEN)")
	case authorizer:
		return configError(wechat.OpGetEnvInfo, "no access token for getenvinfo: WECHAT_AUTHORIZER_APPID is set but WECHAT_AUTHORIZER_REFRESH_TOKEN is not (or set WECHAT_ACCESS_TOKEN)")
	case c.AppID != "":
		return configError(wechat.OpGetEnvInfo, "no access token for getenvinfo: WECHAT_APPID is set but WECHAT_APPSECRET is not (or set WECHAT_ACCESS_TOKEN)")
	case c.AppSecret != "":
		return configError(wechat.OpGetEnvInfo, "no access token for getenvinfo: WECHAT_APPSECRET is set but WECHAT_APPID is not (or set WECHAT_ACCESS_TOKEN)")
	}
	return configError(wechat.OpGetEnvInfo,
		"no access token for getenvinfo: set WECHAT_ACCESS_TOKEN, or WECHAT_AUTHORIZER_APPID and WECHAT_AUTHORIZER_REFRESH_TOKEN (with the component credentials), or WECHAT_APPID and WECHAT_APPSECRET")
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
	// OpenStore opens WXCLOUDENV_STORE (store.Open by default).
	OpenStore func(rawURL string, opts ...store.Option) (store.Store, error)
	// FixedEnv says that the lookups Get is given never change their
	// values, as a Lambda process's environment does not (SCF's may be
	// set anew with each invocation): the first Runtime (or configuration
	// error) then serves every call, without reading every variable again
	// (about 3 µs a warm invocation).
	FixedEnv bool

	mu     sync.Mutex
	key    string
	rt     *Runtime
	err    error
	stores map[string]store.Store // by WXCLOUDENV_STORE, kept across rebuilds
	scrub  *wechat.Scrubber       // shared by every Runtime the Cache builds
}

// Scrubber returns the scrubber every Runtime of the Cache keeps its
// secrets in: it lives as long as the Cache, its tokens until they expire.
func (c *Cache) Scrubber() *wechat.Scrubber {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.scrubberLocked()
}

func (c *Cache) scrubberLocked() *wechat.Scrubber {
	if c.scrub == nil {
		c.scrub = wechat.NewScrubber()
	}
	return c.scrub
}

// Get returns the Runtime for the variables lookup reads.
func (c *Cache) Get(lookup config.Lookup) (*Runtime, error) {
	if c.FixedEnv {
		c.mu.Lock()
		rt, err := c.rt, c.err
		c.mu.Unlock()
		if rt != nil || err != nil {
			return rt, err
		}
	}
	key := fingerprint(lookup)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.key == key && (c.rt != nil || c.err != nil) {
		return c.rt, c.err
	}
	if c.HTTPClient == nil {
		// Both endpoints, the token endpoints and a fleet's concurrent
		// calls share one host: keep as many idle connections as a fleet
		// run uses at once.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = config.MaxConcurrency
		c.HTTPClient = &http.Client{Transport: t}
	}
	c.key = key
	cfg, err := config.Parse(lookup)
	if err != nil {
		c.rt, c.err = nil, err
		return nil, err
	}
	st, ok := c.stores[cfg.Store]
	if !ok {
		open := c.OpenStore
		if open == nil {
			open = store.Open
		}
		if st, err = open(cfg.Store, store.WithEnv(lookup)); err != nil {
			c.rt, c.err = nil, err
			return nil, err
		}
		if c.stores == nil {
			c.stores = map[string]store.Store{}
		}
		c.stores[cfg.Store] = st
	}
	c.rt, c.err = Build(cfg, Deps{HTTPClient: c.HTTPClient, Options: c.Options, Store: st, Scrubber: c.scrubberLocked()})
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

// ReadAhead is what a fleet run reads along with its tokens, in the
// preload's batches (store.Buffered's read-ahead): keys it would
// otherwise read in round trips of their own.
type ReadAhead interface {
	// AheadKeys returns the keys to read in the batch of appids' tokens.
	AheadKeys(appids []string) []string
	// Supply receives the live values among keys, as GetMany returns them.
	Supply(keys []string, vals map[string]store.Value)
}

// Fleet supplies a fleet run (docs/contract.md#the-fleet): who the
// platform's authorizers are, and each one's token.
type Fleet interface {
	// All lists every authorizer of the platform: those authorization
	// events keep in the store, merged with WeChat's authorizer list,
	// each once. It returns what it could read even when it also returns
	// an error; the slice is the caller's.
	All(ctx context.Context) (appids []string, err error)
	// Source returns the token source of one authorizer.
	Source(appid string) wechat.TokenSource
	// Preload reads the stored tokens of many authorizers in batches, so
	// that Source needs no round trip of its own for them; when it reads
	// the store, each batch also reads what ahead asks for (nil: nothing).
	Preload(ctx context.Context, appids []string, ahead ReadAhead) error
	// Refresh reads WeChat's authorizer list when this process has not
	// read it lately, so that named authorizers whose refresh token is in
	// no store can still be minted.
	Refresh(ctx context.Context) error
}
