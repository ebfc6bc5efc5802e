package app

import (
	"context"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// Members returns the authorizers that authorization events put in the
// store (a queued run's planner, docs/queue.md).
func (f *fleet) Members(ctx context.Context) ([]string, error) {
	return f.keeper.FleetMembers(ctx, f.componentAppID)
}

// Pages reads WeChat's authorizer list 500 at a time and calls page with
// each page's appids, keeping nothing of it in memory: the page's refresh
// tokens are stored for the authorizers that have none in the store, so
// that the workers, which never read the list, can mint their tokens.
func (f *fleet) Pages(ctx context.Context, page func(appids []string) error) error {
	for offset, n := 0, 0; n < maxListPages; n++ {
		l, err := f.client.GetAuthorizerList(ctx, f.component, f.componentAppID, offset, wechat.MaxAuthorizerListCount)
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(l.List))
		refresh := make(map[string]string, len(l.List))
		for _, e := range l.List {
			if e.AuthorizerAppID == "" {
				continue
			}
			ids = append(ids, e.AuthorizerAppID)
			if r := e.RefreshToken.Reveal(); r != "" {
				refresh[e.AuthorizerAppID] = r
			}
		}
		if err := f.keeper.SaveListed(ctx, f.componentAppID, refresh); err != nil {
			return err
		}
		if err := page(ids); err != nil {
			return err
		}
		offset += len(l.List)
		if len(l.List) == 0 || offset >= l.TotalCount {
			return nil
		}
	}
	return nil
}
