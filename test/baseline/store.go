package baseline

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
)

// StoreKeys are the Redis keys of the two tokens the baseline reads, in
// wxcloudenv's layout (docs/tokens.md) with prefix "wxcloudenv:". They are
// spelled out here, not taken from internal/tokens, so that the baseline
// depends on nothing of ours.
func StoreKeys(componentAppID, authorizerAppID string) (component, authorizer string) {
	return "wxcloudenv:token:component:" + componentAppID,
		"wxcloudenv:token:authorizer:" + componentAppID + ":" + authorizerAppID
}

// FetchFromRedis is the least a function that shares its tokens through
// Redis can do: one MGET of the component and authorizer tokens, each
// value taken as stored (a version byte, 8 bytes of expiry, then
// {"token":…}), then Fetch with them. It checks only that both are there
// and not expired.
func FetchFromRedis(ctx context.Context, rc *redis.Client, hc *http.Client, base, componentKey, authorizerKey string) ([]byte, error) {
	vals, err := rc.MGet(ctx, componentKey, authorizerKey).Result()
	if err != nil {
		return nil, err
	}
	var toks [2]string
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			return nil, errors.New("baseline: token not in the store")
		}
		if toks[i], err = storedToken(s); err != nil {
			return nil, err
		}
	}
	return Fetch(ctx, hc, base, toks[1], toks[0])
}

func storedToken(raw string) (string, error) {
	if len(raw) < 9 || raw[0] != 1 {
		return "", errors.New("baseline: stored value not in wxcloudenv's format")
	}
	if exp := int64(binary.BigEndian.Uint64([]byte(raw[1:9]))); exp != 0 && time.Now().UnixNano() >= exp {
		return "", errors.New("baseline: stored token expired")
	}
	var v struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(raw[9:]), &v); err != nil || v.Token == "" {
		return "", fmt.Errorf("baseline: stored token: %v", err)
	}
	return v.Token, nil
}
