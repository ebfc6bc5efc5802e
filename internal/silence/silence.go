// Package silence keeps the silences people create through the management
// routes (docs/silences-and-robots.md#silences): "we know about this, stop
// telling us until then". A silence has matchers on the labels of changes
// (authorizer, operation, env, resource, status, kind, errcode), an end, a
// comment and who created it. Silences live in the shared store, one key
// each, so every instance sees the same; an ended silence stays readable
// for [KeepEnded] and then expires.
package silence

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wxcloudenv/wxcloudenv/internal/order"
	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// Limits of what a silence may say.
const (
	MaxDuration     = 90 * 24 * time.Hour
	MaxCommentBytes = 1000
	MaxCreatorBytes = 200
	MaxValueBytes   = 200
	MaxAuthorizers  = 1000
	MaxActive       = 10000
	// KeepEnded is how long an ended silence is still listed.
	KeepEnded = 7 * 24 * time.Hour
)

// Labels a matcher may name.
var Labels = []string{"authorizer", "operation", "env", "resource", "status", "kind", "errcode"}

// Silence is one silence.
type Silence struct {
	// ID identifies it (16 hex digits).
	ID string `json:"id"`
	// Matchers: every one must equal the change's label; "authorizer"
	// may hold several appids (any of them matches). Each holds at least
	// one value.
	Matchers map[string][]string `json:"matchers"`
	// StartsAt is when it was created; EndsAt when it ends (or ended:
	// DELETE sets it to the time it was ended).
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
	// Comment and CreatedBy are what the creator said.
	Comment   string `json:"comment,omitempty"`
	CreatedBy string `json:"created_by,omitempty"`
	// Covered are the open alerts and failures it kept from the robots;
	// when it ends, those still open are sent once as reminders, and
	// Released is set.
	Covered  []Covered `json:"covered,omitempty"`
	Released bool      `json:"released,omitempty"`
}

// Covered is an alert or failure a silence kept from the robots.
type Covered struct {
	Authorizer string `json:"authorizer,omitempty"`
	Operation  string `json:"operation"`
	Env        string `json:"env,omitempty"`
	Resource   string `json:"resource"`
}

// MaxCovered bounds what one silence remembers covering.
const MaxCovered = 10000

// Active reports whether s silences at now.
func (s *Silence) Active(now time.Time) bool { return !now.Before(s.StartsAt) && now.Before(s.EndsAt) }

// MarshalJSON writes matchers as the request spelled them: one value as
// a string, several authorizers as a list.
func (s Silence) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(s.Matchers))
	for k, v := range s.Matchers {
		if len(v) == 1 {
			m[k] = v[0]
		} else {
			m[k] = v
		}
	}
	type plain Silence
	return json.Marshal(struct {
		plain
		Matchers map[string]any `json:"matchers"`
	}{plain(s), m})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Silence) UnmarshalJSON(data []byte) error {
	type plain Silence
	var w struct {
		plain
		Matchers map[string]json.RawMessage `json:"matchers"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*s = Silence(w.plain)
	s.Matchers = make(map[string][]string, len(w.Matchers))
	for k, raw := range w.Matchers {
		vals, err := values(raw)
		if err != nil {
			return err
		}
		s.Matchers[k] = vals
	}
	return nil
}

func values(raw json.RawMessage) ([]string, error) {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, errors.New("not a string or a list of strings")
	}
	return many, nil
}

// Target is one change's labels, as a silence matches them.
type Target struct {
	Authorizer, Operation, Env, Resource, Status, Kind string
	ErrCode                                            int
}

// Matches reports whether every matcher of s equals t's label.
func (s *Silence) Matches(t Target) bool {
	for k, vals := range s.Matchers {
		var got string
		switch k {
		case "authorizer":
			got = t.Authorizer
		case "operation":
			got = t.Operation
		case "env":
			got = t.Env
		case "resource":
			got = t.Resource
		case "status":
			got = t.Status
		case "kind":
			got = t.Kind
		case "errcode":
			got = strconv.Itoa(t.ErrCode)
			if t.ErrCode == 0 {
				got = ""
			}
		default:
			return false
		}
		if !slices.Contains(vals, got) {
			return false
		}
	}
	return len(s.Matchers) > 0
}

// FieldError is a refused request: Field names what is wrong (a JSON
// path such as "matchers.errcode" or "ends_at").
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Request is the body of POST …/silences.
type Request struct {
	Matchers  map[string]json.RawMessage `json:"matchers"`
	EndsAt    string                     `json:"ends_at"`
	Duration  string                     `json:"duration"`
	Comment   string                     `json:"comment"`
	CreatedBy string                     `json:"created_by"`
}

// Parse reads and checks a POST body at now. Every refusal is a
// *FieldError naming the field.
func Parse(body []byte, now time.Time) (*Silence, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var r Request
	if err := dec.Decode(&r); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return nil, &FieldError{Field: ute.Field, Problem: "has the wrong type"}
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok && strings.Trim(f, `"`) != "" {
			return nil, &FieldError{Field: strings.Trim(f, `"`), Problem: "is not a known field (matchers, ends_at, duration, comment, created_by)"}
		}
		return nil, &FieldError{Field: "body", Problem: "is not a JSON object"}
	}
	if dec.More() {
		return nil, &FieldError{Field: "body", Problem: "holds more than one JSON value"}
	}
	s := &Silence{StartsAt: now.UTC(), Matchers: map[string][]string{}}
	if len(r.Matchers) == 0 {
		return nil, &FieldError{Field: "matchers", Problem: "needs at least one label: " + strings.Join(Labels, ", ")}
	}
	for k, raw := range r.Matchers {
		field := "matchers." + k
		if !slices.Contains(Labels, k) {
			return nil, &FieldError{Field: field, Problem: "is not a label; use " + strings.Join(Labels, ", ")}
		}
		vals, err := values(raw)
		if err != nil || k != "authorizer" && len(vals) != 1 {
			if k == "authorizer" {
				return nil, &FieldError{Field: field, Problem: "must be a string or a list of strings"}
			}
			return nil, &FieldError{Field: field, Problem: "must be a string"}
		}
		if len(vals) == 0 || len(vals) > MaxAuthorizers {
			return nil, &FieldError{Field: field, Problem: fmt.Sprintf("must list 1 to %d appids", MaxAuthorizers)}
		}
		for _, v := range vals {
			if err := checkValue(k, v); err != "" {
				return nil, &FieldError{Field: field, Problem: err}
			}
		}
		slices.Sort(vals)
		s.Matchers[k] = slices.Compact(vals)
	}
	switch {
	case r.EndsAt != "" && r.Duration != "":
		return nil, &FieldError{Field: "ends_at", Problem: "give ends_at or duration, not both"}
	case r.EndsAt != "":
		t, err := time.Parse(time.RFC3339, r.EndsAt)
		if err != nil {
			return nil, &FieldError{Field: "ends_at", Problem: "must be an RFC 3339 time such as 2026-12-24T18:00:00+08:00"}
		}
		s.EndsAt = t.UTC()
	case r.Duration != "":
		d, err := time.ParseDuration(r.Duration)
		if err != nil || d <= 0 {
			return nil, &FieldError{Field: "duration", Problem: "must be a positive Go duration such as 2h30m"}
		}
		if d > MaxDuration {
			return nil, &FieldError{Field: "duration", Problem: "must end within 90 days"}
		}
		s.EndsAt = s.StartsAt.Add(d)
	default:
		return nil, &FieldError{Field: "ends_at", Problem: "give ends_at (RFC 3339) or duration (Go duration)"}
	}
	if !s.EndsAt.After(s.StartsAt) {
		return nil, &FieldError{Field: "ends_at", Problem: "must be in the future"}
	}
	if s.EndsAt.Sub(s.StartsAt) > MaxDuration {
		return nil, &FieldError{Field: "ends_at", Problem: "must be within 90 days"}
	}
	if err := checkText(r.Comment, MaxCommentBytes); err != "" {
		return nil, &FieldError{Field: "comment", Problem: err}
	}
	if err := checkText(r.CreatedBy, MaxCreatorBytes); err != "" {
		return nil, &FieldError{Field: "created_by", Problem: err}
	}
	s.Comment, s.CreatedBy = r.Comment, r.CreatedBy
	return s, nil
}

func checkValue(label, v string) string {
	switch {
	case v == "":
		return "must not be empty"
	case len(v) > MaxValueBytes:
		return fmt.Sprintf("must be at most %d bytes", MaxValueBytes)
	case !utf8.ValidString(v):
		return "must be valid UTF-8"
	}
	switch label {
	case "errcode":
		if _, err := strconv.Atoi(v); err != nil || strings.TrimLeft(v, "-0123456789") != "" || v == "0" {
			return "must be the errcode's digits, such as 85088"
		}
	case "authorizer":
		if len(v) > 64 || strings.TrimLeft(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
			return "must be an appid: 1 to 64 characters of A-Z, a-z, 0-9 and _"
		}
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return "must not hold control characters"
		}
	}
	return ""
}

func checkText(s string, max int) string {
	switch {
	case len(s) > max:
		return fmt.Sprintf("must be at most %d bytes", max)
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	}
	return ""
}

// Book keeps silences in a store.
type Book struct {
	Store  store.Store
	Prefix string
}

// KeyPrefix is where silences live: Prefix + "silences:" + id.
func (b *Book) keyPrefix() string { return b.Prefix + "silences:" }

// ErrTooMany is returned by Create when MaxActive silences are active.
var ErrTooMany = &FieldError{Field: "matchers", Problem: fmt.Sprintf("there are already %d active silences; end some first", MaxActive)}

// ErrNotFound is returned by End for an unknown id.
var ErrNotFound = errors.New("silence: not found")

// Create stores s with a new id and returns it.
func (b *Book) Create(ctx context.Context, s *Silence, now time.Time) error {
	all, err := b.List(ctx, now)
	if err != nil {
		return err
	}
	active := 0
	for i := range all {
		if all[i].Active(now) {
			active++
		}
	}
	if active >= MaxActive {
		return ErrTooMany
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return fmt.Errorf("silence: new id: %w", err)
	}
	s.ID = hex.EncodeToString(id[:])
	if err := b.put(ctx, s, nil); err != nil {
		return fmt.Errorf("silence: write %s: %w", s.ID, err)
	}
	return nil
}

func (b *Book) put(ctx context.Context, s *Silence, old []byte) error {
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("silence: encode: %w", err)
	}
	v := store.Value{Data: data, Expires: s.EndsAt.Add(KeepEnded)}
	ok, err := b.Store.CompareAndSwap(ctx, b.keyPrefix()+s.ID, old, v)
	if err != nil {
		return fmt.Errorf("silence: write %s: %w", s.ID, err)
	}
	if !ok {
		return errChanged
	}
	return nil
}

// errChanged is put's answer when the key no longer holds old.
var errChanged = errors.New("silence: changed meanwhile")

// List returns the silences active at now or ended within KeepEnded,
// the newest first.
func (b *Book) List(ctx context.Context, now time.Time) ([]Silence, error) {
	keys, err := b.Store.Keys(ctx, b.keyPrefix())
	if err != nil {
		return nil, fmt.Errorf("silence: list: %w", err)
	}
	if len(keys) == 0 {
		return []Silence{}, nil
	}
	got, err := b.Store.GetMany(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("silence: read: %w", err)
	}
	out := make([]Silence, 0, len(got))
	for _, v := range got {
		var s Silence
		if json.Unmarshal(v.Data, &s) != nil || s.ID == "" {
			continue
		}
		if now.Sub(s.EndsAt) > KeepEnded {
			continue
		}
		out = append(out, s)
	}
	order.SortFunc(out, func(a, b Silence) int {
		if c := b.StartsAt.Compare(a.StartsAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Active returns the silences active at now.
func (b *Book) Active(ctx context.Context, now time.Time) ([]Silence, error) {
	all, err := b.List(ctx, now)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(s Silence) bool { return !s.Active(now) }), nil
}

// End ends silence id at now; ending an ended silence changes nothing.
func (b *Book) End(ctx context.Context, id string, now time.Time) error {
	if len(id) != 16 || strings.TrimLeft(id, "0123456789abcdef") != "" {
		return ErrNotFound
	}
	for range 8 {
		v, err := b.Store.Get(ctx, b.keyPrefix()+id)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("silence: read %s: %w", id, err)
		}
		var s Silence
		if err := json.Unmarshal(v.Data, &s); err != nil {
			return fmt.Errorf("silence: decode %s: %w", id, err)
		}
		if !s.EndsAt.After(now) {
			return nil
		}
		s.EndsAt = now.UTC()
		if s.StartsAt.After(s.EndsAt) {
			s.StartsAt = s.EndsAt
		}
		if err := b.put(ctx, &s, v.Data); !errors.Is(err, errChanged) {
			return err
		}
	}
	return fmt.Errorf("silence: %s still contended: %w", id, store.ErrUnavailable)
}

// update applies f to silence id's stored value with compare-and-swap,
// retrying when another instance wrote meanwhile; f reports whether to
// write.
func (b *Book) update(ctx context.Context, id string, f func(s *Silence) bool) (bool, error) {
	for range 8 {
		v, err := b.Store.Get(ctx, b.keyPrefix()+id)
		if errors.Is(err, store.ErrNotFound) {
			return false, ErrNotFound
		}
		if err != nil {
			return false, fmt.Errorf("silence: read %s: %w", id, err)
		}
		var s Silence
		if err := json.Unmarshal(v.Data, &s); err != nil {
			return false, fmt.Errorf("silence: decode %s: %w", id, err)
		}
		if !f(&s) {
			return false, nil
		}
		if err := b.put(ctx, &s, v.Data); !errors.Is(err, errChanged) {
			return err == nil, err
		}
	}
	return false, fmt.Errorf("silence: %s still contended: %w", id, store.ErrUnavailable)
}

// Cover records that silence id kept items from the robots.
func (b *Book) Cover(ctx context.Context, id string, items []Covered) error {
	_, err := b.update(ctx, id, func(s *Silence) bool {
		changed := false
		for _, it := range items {
			if len(s.Covered) >= MaxCovered {
				break
			}
			if !slices.Contains(s.Covered, it) {
				s.Covered = append(s.Covered, it)
				changed = true
			}
		}
		return changed
	})
	return err
}

// Release claims an ended silence's covered items, once across every
// instance: it reports true to the one caller that set Released.
func (b *Book) Release(ctx context.Context, id string, now time.Time) (*Silence, bool, error) {
	var got Silence
	ok, err := b.update(ctx, id, func(s *Silence) bool {
		if s.Released || s.Active(now) || len(s.Covered) == 0 {
			return false
		}
		s.Released = true
		got = *s
		return true
	})
	if !ok || err != nil {
		return nil, false, err
	}
	return &got, true, nil
}

// Match returns the id of the first silence in active that matches t, or
// "".
func Match(active []Silence, t Target) string {
	for i := range active {
		if active[i].Matches(t) {
			return active[i].ID
		}
	}
	return ""
}
