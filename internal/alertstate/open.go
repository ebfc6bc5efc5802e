package alertstate

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// Open is one alert or failure the state holds open: an entry of a shard,
// with its pair. Resource is ResourceOperation for a failure.
type Open struct {
	Authorizer string    `json:"authorizer,omitempty"`
	Operation  string    `json:"operation"`
	Env        string    `json:"env,omitempty"`
	Resource   string    `json:"resource"`
	Status     string    `json:"status,omitempty"`
	Kind       string    `json:"kind,omitempty"`
	ErrCode    int       `json:"errcode,omitempty"`
	Message    string    `json:"message,omitempty"`
	Since      time.Time `json:"since"`
}

// openBatch is how many shards ListOpen reads per GetMany.
const openBatch = 500

// ListOpen reads every open alert and failure under prefix, for the status
// page: the state as the last runs left it, whatever ran. authorizer, when
// not empty, reads that authorizer's shards only ("-" for none). It only
// reads. Shards that cannot be decoded are skipped.
func ListOpen(ctx context.Context, st store.Store, prefix, authorizer string) ([]Open, error) {
	base := prefix + "alerts:"
	keys, err := st.Keys(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("alertstate: list shards: %w", err)
	}
	if authorizer != "" {
		keys = slices.DeleteFunc(keys, func(k string) bool { return !strings.HasSuffix(k, ":"+authorizer) })
	}
	slices.Sort(keys)
	var out []Open
	err = store.Each(ctx, st, keys, openBatch, func(k string, v store.Value) bool {
		op, auth, ok := strings.Cut(strings.TrimPrefix(k, base), ":")
		if !ok {
			return true
		}
		if auth == "-" {
			auth = ""
		}
		var s shardState
		if json.Unmarshal(v.Data, &s) != nil {
			return true
		}
		for _, e := range s.Entries {
			out = append(out, Open{Authorizer: auth, Operation: op, Env: e.Env, Resource: e.Resource, Status: e.Status,
				Kind: e.Kind, ErrCode: e.ErrCode, Message: e.Message, Since: e.Since})
		}
		return true
	})
	if err != nil {
		return out, fmt.Errorf("alertstate: shards: %w", err)
	}
	return out, nil
}
