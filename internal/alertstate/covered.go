package alertstate

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// OpenChanges returns what is open now in the shards of scopes — each open
// alert and failure as a Change with change — read in one batch, without
// changing anything. It is for a reminder that does not come from a run's
// own comparison, such as the end of a silence (docs/silences.md).
func OpenChanges(ctx context.Context, st store.Store, prefix string, scopes []Scope, change string) ([]Change, error) {
	keys := make([]string, len(scopes))
	for i, s := range scopes {
		keys[i] = Key(prefix, s)
	}
	got, err := st.GetMany(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("alertstate: read open state: %w", err)
	}
	var out []Change
	for i, s := range scopes {
		v, ok := got[keys[i]]
		if !ok {
			continue
		}
		var state shardState
		if json.Unmarshal(v.Data, &state) != nil {
			continue
		}
		for _, e := range state.Entries {
			out = append(out, toChange(s, e, change))
		}
	}
	return out, nil
}
