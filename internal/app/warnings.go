package app

import (
	"crypto/rand"
	"encoding/hex"
	"slices"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/tokens"
	"github.com/wxcloudenv/wxcloudenv/internal/warnings"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// warningsFor builds the platform's warnings (docs/when-tokens-break.md),
// or nil when none applies: the verify ticket is watched where pushes are
// received or a ticket is kept in a shared store and the function mints
// the component token from it; quotas are read for the component APIs the
// configuration calls, whenever a component token can be had.
func warningsFor(c *config.Config, client *wechat.Client, keeper *tokens.Keeper, component wechat.TokenSource, st store.Store, fleet bool) *warnings.Checker {
	if c.ComponentAppID == "" {
		return nil
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	w := &warnings.Checker{ComponentAppID: c.ComponentAppID, Store: st, Prefix: c.StorePrefix, Client: client,
		Instance: hex.EncodeToString(b[:])}
	mintsFromTicket := c.TokenLayout == config.LayoutOwn && c.ComponentAccessToken == "" && c.ComponentAppSecret != ""
	pushes := c.ComponentToken != "" && c.ComponentEncodingAESKey != ""
	if mintsFromTicket && (pushes || c.StoreScheme() != "memory") {
		w.Tickets = keeper
	}
	if _, failed := component.(failing); !failed {
		w.Component = component
		if mintsFromTicket {
			w.QuotaPaths = append(w.QuotaPaths, wechat.ComponentTokenPath)
		}
		if fleet {
			w.QuotaPaths = append(w.QuotaPaths, wechat.AuthorizerTokenPath, wechat.GetAuthorizerListPath)
		}
		if pushes {
			w.QuotaPaths = append(w.QuotaPaths, wechat.QueryAuthPath)
		}
		if slices.Contains(c.Operations, wechat.OpDescribeCloudBaseRunEnvs) {
			w.QuotaPaths = append(w.QuotaPaths, wechat.DescribeCloudBaseRunEnvsPath)
		}
	}
	if w.Tickets == nil && len(w.QuotaPaths) == 0 {
		return nil
	}
	return w
}
