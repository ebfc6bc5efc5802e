package alerts

import (
	"context"
	"log/slog"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alertstate"
	"github.com/wxcloudenv/wxcloudenv/internal/silence"
)

// silence applies the silences (docs/silences-and-robots.md#silences): it marks the changes
// and reminders an active silence matches (a resolution too) and records
// what each kept from the robots; and it releases each silence that has
// ended, once across instances, returning what it covered that is still
// open as reminders. It returns how many it marked. Silences that cannot
// be read silence nothing: the robots hear everything, as without them.
func (t *Tracker) silence(ctx context.Context, now time.Time, log *slog.Logger, lists ...*[]Change) (int, []Change) {
	if t.Silences == nil {
		return 0, nil
	}
	all, err := t.Silences.List(ctx, now)
	if err != nil {
		log.Warn("the silences could not be read; nothing is silenced", "error", t.Scrubber.Scrub(err.Error()))
		return 0, nil
	}
	var active []silence.Silence
	var released []Change
	for i := range all {
		s := &all[i]
		if s.Active(now) {
			active = append(active, *s)
			continue
		}
		if s.Released || len(s.Covered) == 0 {
			continue
		}
		got, ok, err := t.Silences.Release(ctx, s.ID, now)
		if err != nil || !ok {
			continue
		}
		open, err := t.stillOpen(ctx, got.Covered)
		if err != nil {
			log.Warn("what an ended silence covered could not be read", "silence", s.ID, "error", t.Scrubber.Scrub(err.Error()))
			continue
		}
		released = append(released, open...)
	}
	lists = append(lists, &released)
	marked := 0
	covered := map[string][]silence.Covered{}
	for _, l := range lists {
		for i := range *l {
			c := &(*l)[i]
			id := silence.Match(active, silence.Target{Authorizer: c.Authorizer, Operation: c.Operation, Env: c.Env,
				Resource: c.Resource, Status: c.Status, Kind: c.Kind, ErrCode: c.ErrCode})
			if id == "" {
				continue
			}
			c.Silenced = id
			marked++
			if c.Change != ChangeResolved {
				covered[id] = append(covered[id], silence.Covered{Authorizer: c.Authorizer, Operation: c.Operation, Env: c.Env, Resource: c.Resource})
			}
		}
	}
	for id, items := range covered {
		if err := t.Silences.Cover(ctx, id, items); err != nil {
			log.Warn("what a silence covered could not be recorded; its end sends no reminder for it", "silence", id, "error", t.Scrubber.Scrub(err.Error()))
		}
	}
	return marked, released
}

// stillOpen returns the covered alerts and failures that are still open,
// as reminders.
func (t *Tracker) stillOpen(ctx context.Context, covered []silence.Covered) ([]Change, error) {
	want := map[silence.Covered]bool{}
	var scopes []Scope
	seen := map[Scope]bool{}
	for _, c := range covered {
		want[c] = true
		sc := Scope{Operation: c.Operation, Authorizer: c.Authorizer}
		if !seen[sc] {
			seen[sc] = true
			scopes = append(scopes, sc)
		}
	}
	open, err := alertstate.OpenChanges(ctx, t.Store, t.Prefix, scopes, ChangeReminder)
	if err != nil {
		return nil, err
	}
	out := open[:0]
	for _, c := range open {
		if want[silence.Covered{Authorizer: c.Authorizer, Operation: c.Operation, Env: c.Env, Resource: c.Resource}] {
			out = append(out, c)
		}
	}
	return out, nil
}
