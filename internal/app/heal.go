package app

import (
	"context"
	"time"
)

// healListFresh is how long a read of the authorizer list serves the
// healing of rejected refresh tokens before it is read again.
const healListFresh = time.Minute

// listedRefresh returns the refresh token WeChat's authorizer list holds
// for appid (tokens.RefreshLister). The list is read again only when this
// process has not read it whole within healListFresh; concurrent callers
// share one read.
func (f *fleet) listedRefresh(ctx context.Context, appid string) (string, error) {
	f.healMu.Lock()
	defer f.healMu.Unlock()
	f.mu.Lock()
	fresh := time.Since(f.listedAt) < healListFresh
	f.mu.Unlock()
	if !fresh {
		if _, err := f.list(ctx, func(string) {}); err != nil {
			return "", err
		}
	}
	return f.keeper.Listed(f.componentAppID, appid), nil
}
