// Package owners keeps each authorizer's own robots (contract section 15,
// docs/silences.md): a merchant's group hears about its own mini program,
// and only that. The robot URLs are secrets: they live in the shared store
// under Prefix + "robots:" + appid and are never shown again; reading them
// back gives kinds and hosts only.
package owners

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/wxcloudenv/wxcloudenv/internal/notify"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// MaxRobots bounds the robots of one authorizer.
const MaxRobots = 10

// FieldError is a refused request: Field names what is wrong.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Robot is what may be shown of a robot: its kind and host.
type Robot struct {
	Kind string `json:"kind"`
	Host string `json:"host"`
}

// stored is the store's value (a secret: the URLs).
type stored struct {
	URLs []string `json:"urls"`
}

// Parse reads and checks a PUT body {"urls": ["…"]}: 1 to MaxRobots robot
// URLs that WXCLOUDENV_NOTIFY would accept. Its errors never show a URL.
func Parse(body []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var r stored
	if err := dec.Decode(&r); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return nil, &FieldError{Field: ute.Field, Problem: "must be a list of robot URLs"}
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok && strings.Trim(f, `"`) != "" {
			return nil, &FieldError{Field: strings.Trim(f, `"`), Problem: "is not a known field (urls)"}
		}
		return nil, &FieldError{Field: "body", Problem: "is not a JSON object"}
	}
	if dec.More() {
		return nil, &FieldError{Field: "body", Problem: "holds more than one JSON value"}
	}
	if len(r.URLs) == 0 || len(r.URLs) > MaxRobots {
		return nil, &FieldError{Field: "urls", Problem: fmt.Sprintf("must list 1 to %d robot URLs", MaxRobots)}
	}
	for i, u := range r.URLs {
		if strings.Contains(u, ",") {
			return nil, &FieldError{Field: fmt.Sprintf("urls[%d]", i), Problem: "must be one URL (no commas)"}
		}
		if _, err := notify.Parse(u, notify.Secrets{}); err != nil {
			// notify.Parse names WXCLOUDENV_NOTIFY and never the URL.
			_, why, _ := strings.Cut(err.Error(), "entry 1 of 1: ")
			return nil, &FieldError{Field: fmt.Sprintf("urls[%d]", i), Problem: why}
		}
	}
	if _, err := notify.Parse(strings.Join(r.URLs, ","), notify.Secrets{}); err != nil {
		_, why, _ := strings.Cut(err.Error(), ": ")
		return nil, &FieldError{Field: "urls", Problem: why}
	}
	return r.URLs, nil
}

// Book keeps the authorizers' robots in a store.
type Book struct {
	Store  store.Store
	Prefix string
}

// Key is appid's store key.
func (b *Book) Key(appid string) string { return b.Prefix + "robots:" + appid }

// Put replaces appid's robots with urls (checked by Parse).
func (b *Book) Put(ctx context.Context, appid string, urls []string) error {
	data, err := json.Marshal(stored{URLs: urls})
	if err != nil {
		return fmt.Errorf("owners: encode: %w", err)
	}
	if err := b.Store.Set(ctx, b.Key(appid), store.Value{Data: data}); err != nil {
		return fmt.Errorf("owners: write %s: %w", appid, err)
	}
	return nil
}

// Delete removes appid's robots.
func (b *Book) Delete(ctx context.Context, appid string) error {
	if err := b.Store.Delete(ctx, b.Key(appid)); err != nil {
		return fmt.Errorf("owners: delete %s: %w", appid, err)
	}
	return nil
}

// Channels returns appid's robots (nil when it has none). The signing
// secrets of WXCLOUDENV_NOTIFY apply to them as to the platform's.
func (b *Book) Channels(ctx context.Context, appid string, s notify.Secrets) ([]notify.Channel, error) {
	v, err := b.Store.Get(ctx, b.Key(appid))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("owners: read %s: %w", appid, err)
	}
	var st stored
	if err := json.Unmarshal(v.Data, &st); err != nil {
		return nil, fmt.Errorf("owners: %s: the stored robots do not decode", appid)
	}
	chans, err := notify.Parse(strings.Join(st.URLs, ","), s)
	if err != nil {
		return nil, fmt.Errorf("owners: %s: the stored robots do not parse", appid)
	}
	return chans, nil
}

// Robots returns what may be shown of appid's robots.
func (b *Book) Robots(ctx context.Context, appid string) ([]Robot, error) {
	chans, err := b.Channels(ctx, appid, notify.Secrets{})
	if err != nil {
		return nil, err
	}
	out := make([]Robot, 0, len(chans))
	for _, c := range chans {
		out = append(out, Robot{Kind: string(c.Kind), Host: c.Host})
	}
	return out, nil
}

// ChannelsOf returns the robots of each of appids that has some, read in
// one batch.
func (b *Book) ChannelsOf(ctx context.Context, appids []string, s notify.Secrets) (map[string][]notify.Channel, error) {
	keys := make([]string, len(appids))
	for i, id := range appids {
		keys[i] = b.Key(id)
	}
	got, err := b.Store.GetMany(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("owners: read: %w", err)
	}
	out := map[string][]notify.Channel{}
	for i, id := range appids {
		v, ok := got[keys[i]]
		if !ok {
			continue
		}
		var st stored
		if json.Unmarshal(v.Data, &st) != nil {
			continue
		}
		if chans, err := notify.Parse(strings.Join(st.URLs, ","), s); err == nil {
			out[id] = chans
		}
	}
	return out, nil
}
