package status

import (
	"context"
	"slices"

	"github.com/wxcloudenv/wxcloudenv/internal/names"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// namesBatch is how many names StoredNames reads per store read.
const namesBatch = 500

// StoredNames reads the authorizers' names (nick_name) that the runs keep
// in st, through the runs' own names.Book (read only: it never asks
// WeChat). An appid without an entry, or a store that fails, has no name:
// names are never worth failing the page for.
func StoredNames(st store.Store, prefix string) func(ctx context.Context, appids []string) map[string]string {
	book := &names.Book{Store: st, Prefix: prefix}
	return func(ctx context.Context, appids []string) map[string]string {
		out := map[string]string{}
		for chunk := range slices.Chunk(appids, namesBatch) {
			got, _, err := book.Load(ctx, chunk, nil)
			if err != nil {
				return out
			}
			for id, e := range got {
				if e.Name != "" {
					out[id] = e.Name
				}
			}
		}
		return out
	}
}
