package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/wxcloudenv/wxcloudenv/internal/robots"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// robotFlags set, remove and list authorizers' own robots in the store the
// runs use (docs/silences-and-robots.md#owner-robots), with the checks
// PUT …/authorizers/{appid}/robots makes, so that the loop can be tried
// without a cloud.
type robotFlags struct {
	set  []string // APPID=URL[,URL…]
	del  []string // APPID
	list bool
}

func (r *robotFlags) register(fs *flag.FlagSet) {
	fs.Func("robots", "give authorizer APPID its own robots, `APPID=URL[,URL…]`, in the store (-store or WXCLOUDENV_STORE; repeatable), as PUT …/authorizers/APPID/robots would", func(s string) error {
		r.set = append(r.set, s)
		return nil
	})
	fs.Func("robots-delete", "remove authorizer `APPID`'s own robots from the store (repeatable)", func(s string) error {
		r.del = append(r.del, s)
		return nil
	})
	fs.BoolVar(&r.list, "robots-list", false, "print every authorizer's own robots (kinds and hosts) from the store and exit")
}

func (r *robotFlags) used() bool { return len(r.set) > 0 || len(r.del) > 0 || r.list }

// apply makes the changes, then lists when asked; done means the command
// ends there (-robots-list).
// lookup reads the variables the runs get (WXCLOUDENV_STORE, with -store
// applied, and WXCLOUDENV_STORE_PREFIX).
func (r *robotFlags) apply(ctx context.Context, lookup func(string) (string, bool), stdout, stderr io.Writer) (done bool, err error) {
	storeURL, _ := lookup("WXCLOUDENV_STORE")
	if u := strings.TrimSpace(storeURL); u == "" || u == "memory" || u == "memory://" {
		return false, errors.New("-robots, -robots-delete and -robots-list need a store the runs share: -store file:///abs/path (or redis://…, dynamodb://TABLE)")
	}
	st, err := store.Open(storeURL)
	if err != nil {
		return false, err
	}
	defer st.Close()
	prefix := "wxcloudenv:"
	if p, ok := lookup("WXCLOUDENV_STORE_PREFIX"); ok && p != "" {
		prefix = p
	}
	for _, s := range r.set {
		appid, urls, ok := strings.Cut(s, "=")
		if !ok {
			return false, fmt.Errorf("-robots wants APPID=URL[,URL…], got no '=' in entry for %q", strings.TrimSpace(appid))
		}
		body, _ := json.Marshal(map[string][]string{"urls": strings.Split(urls, ",")})
		chans, err := robots.PutBody(ctx, st, prefix, strings.TrimSpace(appid), body)
		if err != nil {
			return false, fmt.Errorf("-robots %s: %w", strings.TrimSpace(appid), err)
		}
		fmt.Fprintf(stderr, "wxcloudenv: %s's own robots: %s\n", strings.TrimSpace(appid), describe(robots.Describe(chans)))
	}
	for _, appid := range r.del {
		if !robots.ValidAppID(appid) {
			return false, fmt.Errorf("-robots-delete %q: not an appid", appid)
		}
		if err := robots.Delete(ctx, st, prefix, appid); err != nil {
			return false, fmt.Errorf("-robots-delete %s: %w", appid, err)
		}
		fmt.Fprintf(stderr, "wxcloudenv: %s's own robots removed\n", appid)
	}
	if !r.list {
		return false, nil
	}
	owners, err := robots.Load(ctx, st, prefix)
	if err != nil {
		return true, err
	}
	if len(owners) == 0 {
		fmt.Fprintln(stderr, "wxcloudenv: no authorizer has robots of its own")
	}
	for _, o := range owners {
		fmt.Fprintf(stdout, "%s\t%s\n", o.Authorizer, describe(robots.Describe(o.Channels)))
	}
	return true, nil
}

func describe(rs []robots.Robot) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = string(r.Kind) + " " + r.Host
	}
	return strings.Join(parts, ", ")
}
