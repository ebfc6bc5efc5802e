package status

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// namesBatch is how many names StoredNames reads per GetMany.
const namesBatch = 500

// StoredNames reads the authorizers' names (nick_name) that the runs keep
// in st, one JSON entry with a "name" per appid under PREFIX + "names:" +
// appid (the layout of the runs' name lookups). An
// appid without an entry, or a store that fails, has no name: names are
// never worth failing the page for.
func StoredNames(st store.Store, prefix string) func(ctx context.Context, appids []string) map[string]string {
	return func(ctx context.Context, appids []string) map[string]string {
		out := map[string]string{}
		for chunk := range slices.Chunk(appids, namesBatch) {
			keys := make([]string, len(chunk))
			for i, a := range chunk {
				keys[i] = prefix + "names:" + a
			}
			vals, err := st.GetMany(ctx, keys)
			if err != nil {
				return out
			}
			for i, a := range chunk {
				v, ok := vals[keys[i]]
				if !ok {
					continue
				}
				var e struct {
					Name string `json:"name"`
				}
				if json.Unmarshal(v.Data, &e) == nil && e.Name != "" {
					out[a] = e.Name
				}
			}
		}
		return out
	}
}
