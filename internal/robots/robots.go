// Package robots keeps each authorizer's own robots (docs/silences-and-robots.md#owner-robots): the group robots of a
// merchant that hear about that merchant's mini program only. The routes
// PUT, GET and DELETE …/authorizers/{appid}/robots change and show them;
// the alert path reads them all in one batch per run ([Load]).
//
// Robot URLs are secrets. They are kept in the shared store and nowhere
// else: [Describe] and every error show a robot's kind and host only.
//
// Layout: the registry is split into [Shards] keys by a hash of the appid,
//
//	PREFIX robots:<00..63>   {"<appid>": ["<url>", …], …}
//
// so that a run reads every authorizer's robots with one GetMany (one MGET,
// one BatchGetItem) and a change rewrites one shard with CompareAndSwap,
// keeping what another instance changed meanwhile. The keys never expire.
package robots

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"

	"github.com/wxcloudenv/wxcloudenv/internal/appid"
	"github.com/wxcloudenv/wxcloudenv/internal/notify"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// Limits of what one authorizer's robots may be.
const (
	// MaxURLs is the most robots one authorizer may have.
	MaxURLs = 5
	// MaxURLBytes is the longest robot URL accepted (the robots' own
	// URLs are about 100 bytes).
	MaxURLBytes = 512
	// Shards is how many store keys the registry is split into.
	Shards = 64
	// MaxShardBytes bounds one shard's value, below DynamoDB's 400 KB per
	// item: at about 130 bytes a robot, a shard holds some 2,500
	// authorizers with one robot each, the registry over 150,000.
	MaxShardBytes = 350_000
	// casAttempts bounds the retries of a contended shard.
	casAttempts = 16
)

// ErrFull means the authorizer's shard of the registry is at
// MaxShardBytes: nothing was changed.
var ErrFull = errors.New("robots: this part of the robot registry is full")

// FieldError is a refused request: Field names what is wrong (a JSON path
// such as "urls[1]", "urls", "appid" or "body"). Problem never quotes a
// robot URL.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// ValidAppID reports whether s can be an authorizer's appid: 1 to 64
// characters of [A-Za-z0-9_].
func ValidAppID(s string) bool { return appid.Valid(s) }

// Parse reads and checks the body of PUT …/authorizers/{appid}/robots,
// {"urls": ["…", …]}: one to MaxURLs robot URLs as WXCLOUDENV_NOTIFY takes them
// (docs/contract.md#alerts-and-robots), no robot twice. Every refusal is a *FieldError. It returns
// the URLs as given (trimmed) and their channels.
func Parse(body []byte) ([]string, []notify.Channel, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var r struct {
		URLs *[]string `json:"urls"`
	}
	if err := dec.Decode(&r); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return nil, nil, &FieldError{Field: "urls", Problem: "must be a list of robot URLs (strings)"}
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return nil, nil, &FieldError{Field: fieldName(strings.Trim(f, `"`)), Problem: "is not a known field (the body is {\"urls\": [\"…\"]})"}
		}
		return nil, nil, &FieldError{Field: "body", Problem: "is not a JSON object {\"urls\": [\"…\"]}"}
	}
	if dec.More() {
		return nil, nil, &FieldError{Field: "body", Problem: "holds more than one JSON value"}
	}
	if r.URLs == nil || len(*r.URLs) == 0 {
		return nil, nil, &FieldError{Field: "urls", Problem: "needs at least one robot URL (to remove an authorizer's robots, use DELETE)"}
	}
	urls := *r.URLs
	if len(urls) > MaxURLs {
		return nil, nil, &FieldError{Field: "urls", Problem: "has " + strconv.Itoa(len(urls)) + " robot URLs; at most " + strconv.Itoa(MaxURLs) + " per authorizer"}
	}
	out := make([]string, len(urls))
	chans := make([]notify.Channel, len(urls))
	for i, u := range urls {
		field := "urls[" + strconv.Itoa(i) + "]"
		u = strings.TrimSpace(u)
		if len(u) > MaxURLBytes {
			return nil, nil, &FieldError{Field: field, Problem: "is over " + strconv.Itoa(MaxURLBytes) + " bytes"}
		}
		ch, err := notify.ParseURL(u)
		if err != nil {
			return nil, nil, &FieldError{Field: field, Problem: err.Error()}
		}
		for j := range i {
			if notify.SameRobot(chans[j], ch) {
				return nil, nil, &FieldError{Field: field, Problem: "is the same robot as urls[" + strconv.Itoa(j) + "]"}
			}
		}
		out[i], chans[i] = u, ch
	}
	return out, chans, nil
}

// fieldName is the name of an unknown field a caller sent, for the error
// that names it: a plain name, else "body" (a name that could be a URL, or
// anything else a caller should not see echoed, is not repeated).
func fieldName(f string) string {
	if f == "" || len(f) > 32 {
		return "body"
	}
	for _, r := range f {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return "body"
		}
	}
	return f
}

// Robot is one robot as answers show it: kind and host, never the URL.
type Robot struct {
	Kind notify.Kind `json:"kind"`
	Host string      `json:"host"`
}

// Describe shows chans by kind and host.
func Describe(chans []notify.Channel) []Robot {
	out := make([]Robot, len(chans))
	for i, ch := range chans {
		out[i] = Robot{Kind: ch.Kind, Host: ch.Host}
	}
	return out
}

// shardKey is the key of appid's shard.
func shardKey(prefix, appid string) string {
	h := fnv.New32a()
	h.Write([]byte(appid))
	return shardKeyN(prefix, int(h.Sum32()%Shards))
}

func shardKeyN(prefix string, n int) string { return fmt.Sprintf("%srobots:%02d", prefix, n) }

// shard is one shard's value.
type shard map[string][]string

func decode(v store.Value) (shard, error) {
	s := shard{}
	if v.Data == nil {
		return s, nil
	}
	if err := json.Unmarshal(v.Data, &s); err != nil {
		return nil, errors.New("robots: a shard of the registry is not valid JSON")
	}
	return s, nil
}

// update applies fn to appid's shard with CompareAndSwap, re-reading when
// another writer got there first.
func update(ctx context.Context, st store.Store, prefix, appid string, fn func(shard)) error {
	key := shardKey(prefix, appid)
	for range casAttempts {
		v, err := st.Get(ctx, key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("robots: read: %w", err)
		}
		var old []byte
		if err == nil {
			old = v.Data
		}
		s, err := decode(v)
		if err != nil {
			// A corrupt shard is replaced rather than blocking every
			// change to it for good.
			s = shard{}
		}
		fn(s)
		var ok bool
		if len(s) == 0 {
			if old == nil {
				return nil
			}
			ok, err = st.CompareAndDelete(ctx, key, old)
		} else {
			data, merr := json.Marshal(s)
			if merr != nil {
				return fmt.Errorf("robots: encode: %w", merr)
			}
			if len(data) > MaxShardBytes && len(data) > len(old) {
				return ErrFull
			}
			ok, err = st.CompareAndSwap(ctx, key, old, store.Value{Data: data})
		}
		if err != nil {
			return fmt.Errorf("robots: write: %w", err)
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("robots: the registry is still contended after %d attempts: %w", casAttempts, store.ErrUnavailable)
}

// Put replaces appid's robots with urls (as Parse returned them).
func Put(ctx context.Context, st store.Store, prefix, appid string, urls []string) error {
	return update(ctx, st, prefix, appid, func(s shard) { s[appid] = urls })
}

// PutBody is the whole of PUT …/authorizers/{appid}/robots: it checks
// appid and body (refusals are a *FieldError, and store nothing) and
// replaces appid's robots with the body's. It returns the robots kept.
func PutBody(ctx context.Context, st store.Store, prefix, appid string, body []byte) ([]notify.Channel, error) {
	if !ValidAppID(appid) {
		return nil, &FieldError{Field: "appid", Problem: "an authorizer's appid is 1 to 64 characters of [A-Za-z0-9_]"}
	}
	urls, chans, err := Parse(body)
	if err != nil {
		return nil, err
	}
	if err := Put(ctx, st, prefix, appid, urls); err != nil {
		return nil, err
	}
	return chans, nil
}

// Delete removes appid's robots; none is not an error.
func Delete(ctx context.Context, st store.Store, prefix, appid string) error {
	return update(ctx, st, prefix, appid, func(s shard) { delete(s, appid) })
}

// Get returns appid's robots (none: an empty slice).
func Get(ctx context.Context, st store.Store, prefix, appid string) ([]notify.Channel, error) {
	v, err := st.Get(ctx, shardKey(prefix, appid))
	if errors.Is(err, store.ErrNotFound) {
		return []notify.Channel{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("robots: read: %w", err)
	}
	s, err := decode(v)
	if err != nil {
		return nil, err
	}
	return channels(s[appid]), nil
}

// channels parses stored URLs, skipping any that no longer parse.
func channels(urls []string) []notify.Channel {
	out := make([]notify.Channel, 0, len(urls))
	for _, u := range urls {
		if ch, err := notify.ParseURL(u); err == nil {
			out = append(out, ch)
		}
	}
	return out
}

// Owner is one authorizer's robots.
type Owner struct {
	Authorizer string
	Channels   []notify.Channel
}

// Keys returns the registry's keys, which Load reads: a run may read them
// ahead in a batch it makes anyway.
func Keys(prefix string) []string {
	keys := make([]string, Shards)
	for i := range keys {
		keys[i] = shardKeyN(prefix, i)
	}
	return keys
}

// Load reads every authorizer's robots in one batch, sorted by appid. A
// shard that cannot be decoded is left out and named in the error, with
// what could be read returned beside it.
func Load(ctx context.Context, st store.Store, prefix string) ([]Owner, error) {
	keys := Keys(prefix)
	vals, err := st.GetMany(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("robots: read the registry: %w", err)
	}
	var out []Owner
	var bad []string
	for _, k := range keys {
		v, ok := vals[k]
		if !ok {
			continue
		}
		s, err := decode(v)
		if err != nil {
			bad = append(bad, strings.TrimPrefix(k, prefix))
			continue
		}
		for appid, urls := range s {
			if chans := channels(urls); len(chans) > 0 {
				out = append(out, Owner{Authorizer: appid, Channels: chans})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Authorizer < out[j].Authorizer })
	if len(bad) > 0 {
		return out, fmt.Errorf("robots: %s could not be decoded", strings.Join(bad, ", "))
	}
	return out, nil
}
