package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/wxcloudenv/wxcloudenv/internal/alertstate"
	"github.com/wxcloudenv/wxcloudenv/internal/incident"
	"github.com/wxcloudenv/wxcloudenv/internal/order"
	"github.com/wxcloudenv/wxcloudenv/internal/trunc"
)

// Size limits of one message, in bytes.
const (
	// WeComMaxContent is WeCom's markdown content limit.
	WeComMaxContent = 4096
	// DingTalkMaxText bounds DingTalk's markdown text (JSON-escaped).
	DingTalkMaxText = 20000
	// FeishuMaxBody is Feishu's request body limit.
	FeishuMaxBody = 20000
	// maxLineBytes bounds one line, so that one huge message cannot crowd
	// out the others.
	maxLineBytes = 512
	// maxGroupLineBytes bounds a grouped line, which names five merchants.
	maxGroupLineBytes = 1024
)

// Report is what a run has to tell: its changes and reminders.
type Report struct {
	// Platform is aws-lambda, tencent-scf or local.
	Platform string
	// Function is the function's name.
	Function string
	// Changes are the run's claimed changes (alertstate.Outcome.Changes).
	Changes []alertstate.Change
	// Reminders are the run's claimed reminders.
	Reminders []alertstate.Change
	// Names are the authorizers' names (nick_name) by appid; a line names
	// the merchant with it beside the appid.
	Names map[string]string
	// GroupMin is WXCLOUDENV_NOTIFY_GROUP_MIN: changes that share a cause
	// and cover at least this many authorizers or envs are one line
	// (package incident); 0 never groups.
	GroupMin int
}

// Empty reports whether r has nothing to send.
func (r Report) Empty() bool { return len(r.Changes) == 0 && len(r.Reminders) == 0 }

// Message is one rendered message.
type Message struct {
	// Title is the summary line: platform/function and the counts.
	Title string
	// Text is the whole content (the title included), within the robot's
	// limit and valid UTF-8.
	Text string
	// Lines is the number of changes and reminders shown (a grouped line
	// counts each of its changes); Omitted the number counted in the
	// "… and N more" line.
	Lines, Omitted int
}

// Priorities, most important first.
const (
	prioPlatform = iota
	prioFailure
	prioSevere
	prioNew
	prioReminder
	prioResolved
)

// entry is one line to be: a change on its own, a group of changes that
// share a cause, or a platform-level failure.
type entry struct {
	prio  int
	label string
	c     *alertstate.Change  // one change, or the group's first
	group *incident.Incident  // nil for one change
	items []alertstate.Change // the changes and reminders, for a group's names
	count int                 // changes the line stands for
}

// Items returns r's changes and reminders as package incident labels
// them, changes first, with the authorizers' names.
func (r Report) Items() []incident.Item {
	items := make([]incident.Item, 0, len(r.Changes)+len(r.Reminders))
	for _, list := range [][]alertstate.Change{r.Changes, r.Reminders} {
		for i := range list {
			c := &list[i]
			items = append(items, incident.Item{Change: c.Change, Authorizer: c.Authorizer, Name: nameOf(r.Names, c),
				Operation: c.Operation, Env: c.Env, Resource: c.Resource, Status: c.Status, Kind: c.Kind, ErrCode: c.ErrCode,
				Message: c.Message, Since: c.Since})
		}
	}
	return items
}

// Incidents returns the groups r's message shows (package incident), for
// the event's "incidents". Platform-level failures are never grouped.
func (r Report) Incidents() []incident.Incident {
	g, _ := incident.Group(groupable(r.Items()), r.GroupMin)
	return g
}

// groupable blanks the change of platform-level items, so that no group
// takes them.
func groupable(items []incident.Item) []incident.Item {
	for i := range items {
		if IsPlatform(items[i].Operation) {
			items[i].Change = "platform"
		}
	}
	return items
}

// IsPlatform reports whether a change's operation is a platform-level
// failure (package incident's cause keys).
func IsPlatform(operation string) bool { return strings.HasPrefix(operation, incident.KeyPrefix) }

// Render returns the message r makes for a robot of kind k, without sending
// it: what `make run` previews. Platform-level failures come first, then
// failures, new HALTED or UNAVAILABLE alerts, other new alerts, reminders,
// and resolved ones; changes that share a cause over at least r.GroupMin
// authorizers or envs are one line (count, cause, up to five names, "+N
// more"). Lines are cut whole to the robot's limit with a last "… and N
// more" line.
func Render(k Kind, r Report) Message {
	all := make([]alertstate.Change, 0, len(r.Changes)+len(r.Reminders))
	all = append(append(all, r.Changes...), r.Reminders...)
	groups, of := incident.Group(groupable(r.Items()), r.GroupMin)
	entries := make([]entry, 0, len(all))
	var nNew, nResolved, nRemind int
	for g := range groups {
		first := &all[groups[g].Members[0]]
		prio, label := classify(first)
		entries = append(entries, entry{prio: prio, label: label, c: first, group: &groups[g], items: all, count: groups[g].Count})
	}
	for i := range all {
		c := &all[i]
		switch {
		case c.Change == alertstate.ChangeReminder:
			nRemind++
		case c.Change == alertstate.ChangeResolved:
			nResolved++
		default:
			nNew++
		}
		if of[i] >= 0 {
			continue
		}
		prio, label := classify(c)
		entries = append(entries, entry{prio: prio, label: label, c: c, count: 1})
	}
	order.SortStableFunc(entries, func(a, b entry) int { return a.prio - b.prio })

	title := titleOf(r, nNew, nResolved, nRemind)
	head := title + "\n"
	if k != Feishu {
		head = "### " + title + "\n"
	}
	limit, cost := budget(k)
	var b strings.Builder
	b.WriteString(head)
	used := cost(head)
	total := len(all)
	// Keep lines while they fit with room left for "… and N more"; only
	// the lines kept and the few after them are formatted, however many
	// changes there are.
	reserve := cost(moreLine(total))
	var kept []string
	shownEntries, shown := 0, 0
	for shownEntries < len(entries) {
		l := formatLine(k, r.Names, &entries[shownEntries])
		c := cost(l)
		if used+c+reserve > limit {
			break
		}
		kept = append(kept, l)
		used += c
		shown += entries[shownEntries].count
		shownEntries++
	}
	if shownEntries < len(entries) {
		// Without the reserve, the rest may still fit as a whole.
		rest, restCost := []string{}, 0
		for i := shownEntries; i < len(entries); i++ {
			l := formatLine(k, r.Names, &entries[i])
			restCost += cost(l)
			if used+restCost > limit {
				break
			}
			rest = append(rest, l)
		}
		if used+restCost <= limit {
			kept = append(kept, rest...)
			shown = total
		}
	}
	for _, l := range kept {
		b.WriteString(l)
	}
	if shown < total {
		b.WriteString(moreLine(total - shown))
	}
	return Message{Title: title, Text: strings.TrimSuffix(b.String(), "\n"), Lines: shown, Omitted: total - shown}
}

// classify gives a change its priority and label.
func classify(c *alertstate.Change) (int, string) {
	switch {
	case c.Change == alertstate.ChangeResolved:
		return prioResolved, "RESOLVED"
	case c.Change == alertstate.ChangeReminder:
		if IsPlatform(c.Operation) {
			return prioPlatform, "PLATFORM STILL FAILING"
		}
		return prioReminder, "STILL OPEN"
	case IsPlatform(c.Operation):
		return prioPlatform, "PLATFORM"
	case c.Resource == alertstate.ResourceOperation:
		return prioFailure, "FAILING"
	case c.Status == "HALTED" || c.Status == "UNAVAILABLE":
		return prioSevere, "NEW"
	default:
		return prioNew, "NEW"
	}
}

func titleOf(r Report, nNew, nResolved, nRemind int) string {
	name := "wxcloudenv"
	if r.Platform != "" || r.Function != "" {
		name += " " + clean(strings.Trim(r.Platform+"/"+r.Function, "/"), 128)
	}
	var parts []string
	if nNew > 0 {
		parts = append(parts, fmt.Sprintf("%d new", nNew))
	}
	if nResolved > 0 {
		parts = append(parts, fmt.Sprintf("%d resolved", nResolved))
	}
	if nRemind == 1 {
		parts = append(parts, "1 reminder")
	} else if nRemind > 1 {
		parts = append(parts, fmt.Sprintf("%d reminders", nRemind))
	}
	if len(parts) == 0 {
		parts = append(parts, "no changes")
	}
	return name + ": " + strings.Join(parts, ", ")
}

func moreLine(n int) string { return fmt.Sprintf("… and %d more\n", n) }

func formatLine(k Kind, names map[string]string, e *entry) string {
	var text string
	if e.group != nil {
		text = describeGroup(k, names, e)
	} else {
		text = describe(k, nameOf(names, e.c), e.c)
	}
	if k == Feishu {
		return "• " + e.label + " " + text + "\n"
	}
	return "- **" + e.label + "** " + text + "\n"
}

// budget returns the limit of k's messages and the cost of a piece of text
// against it. DingTalk's and Feishu's are measured JSON-escaped, as sent.
func budget(k Kind) (int, func(string) int) {
	switch k {
	case DingTalk:
		return DingTalkMaxText, escapedLen
	case Feishu:
		// The body is the envelope plus the escaped text.
		return FeishuMaxBody - feishuEnvelope(), escapedLen
	default:
		return WeComMaxContent, func(s string) int { return len(s) }
	}
}

// feishuEnvelope is the size of a signed Feishu body around its text,
// measured on first use (not in init: every cold start would pay for it).
var feishuEnvelope = sync.OnceValue(func() int {
	b, _ := json.Marshal(feishuBody{Timestamp: "1700000000", Sign: strings.Repeat("x", 44), MsgType: "text", Content: feishuText{Text: ""}})
	return len(b)
})

func escapedLen(s string) int {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	_ = enc.Encode(s)    // a string always encodes
	return buf.Len() - 3 // the quotes and the newline
}

// nameOf is c's authorizer's name: the change's own, else names'.
func nameOf(names map[string]string, c *alertstate.Change) string {
	if c.Name != "" {
		return c.Name
	}
	return names[c.Authorizer]
}

// who names an authorizer: its name (made safe for k) and appid, or the
// appid alone.
func who(k Kind, name, appid string) string {
	if name == "" {
		return appid
	}
	return Safe(k, name) + " (" + appid + ")"
}

// cause is what a change says went wrong, without whom or when; withEnv
// leaves the env out, for a group whose members name theirs.
func cause(c *alertstate.Change, withEnv bool) string {
	var b strings.Builder
	b.WriteString(c.Operation)
	if c.Resource == alertstate.ResourceOperation || IsPlatform(c.Operation) {
		if c.Kind != "" {
			b.WriteString(": " + c.Kind)
		}
		if c.ErrCode != 0 {
			fmt.Fprintf(&b, " errcode %d", c.ErrCode)
		}
	} else {
		if c.Env != "" && withEnv {
			b.WriteString(" " + c.Env)
		}
		b.WriteString(" " + c.Resource)
		if c.Status != "" && c.Change != alertstate.ChangeResolved {
			b.WriteString(" " + c.Status)
		}
	}
	return b.String()
}

func sinceOf(c *alertstate.Change, t time.Time) string {
	switch {
	case c.Change == alertstate.ChangeResolved && c.Status != "":
		return " (was " + c.Status + " since " + t.UTC().Format(time.RFC3339) + ")"
	case c.Change == alertstate.ChangeResolved:
		return " (failing since " + t.UTC().Format(time.RFC3339) + ")"
	case !t.IsZero():
		return " (since " + t.UTC().Format(time.RFC3339) + ")"
	}
	return ""
}

// platformResolved is what a platform-level failure's resolved line says.
var platformResolved = map[string]string{
	incident.KeyPrefix + incident.CauseComponentToken: "the component access token can be had again",
	incident.KeyPrefix + incident.CauseAuthorizerList: "the authorizer list can be read again",
	incident.KeyPrefix + incident.CauseUnreachable:    "WeChat is reachable again",
	incident.KeyPrefix + incident.CauseDeadline:       "runs reach every authorizer again",
}

// describePlatform is a platform-level failure's line content: what
// failed and what to do, or that it works again.
func describePlatform(c *alertstate.Change) string {
	var b strings.Builder
	if c.Change == alertstate.ChangeResolved {
		what := platformResolved[c.Operation]
		if what == "" {
			what = c.Operation + " works again"
		}
		b.WriteString(what)
	} else {
		b.WriteString(c.Message)
		if c.ErrCode != 0 && !strings.Contains(c.Message, strconv.Itoa(c.ErrCode)) {
			fmt.Fprintf(&b, " (errcode %d)", c.ErrCode)
		}
	}
	b.WriteString(sinceOf(c, c.Since))
	return clean(b.String(), maxGroupLineBytes)
}

// describe is one change's line content, without its label.
func describe(k Kind, name string, c *alertstate.Change) string {
	if IsPlatform(c.Operation) {
		return describePlatform(c)
	}
	var b strings.Builder
	if c.Authorizer != "" {
		b.WriteString(who(k, name, c.Authorizer) + " ")
	}
	b.WriteString(cause(c, true))
	if c.Message != "" && c.Change != alertstate.ChangeResolved {
		b.WriteString(": " + c.Message)
	}
	b.WriteString(sinceOf(c, c.Since))
	return clean(b.String(), maxLineBytes)
}

// describeGroup is a group's line content: how many, the shared cause, up
// to five names, then "+N more".
func describeGroup(k Kind, names map[string]string, e *entry) string {
	g := e.group
	var b strings.Builder
	noun := "envs"
	if g.Resource == alertstate.ResourceOperation {
		noun = "authorizers"
	}
	fmt.Fprintf(&b, "%d %s: %s", g.Count, noun, cause(e.c, false))
	if g.Message != "" && g.Change != alertstate.ChangeResolved {
		b.WriteString(": " + g.Message)
	}
	b.WriteString(" — ")
	shown := min(len(g.Members), incident.MaxNames)
	for i, m := range g.Members[:shown] {
		if i > 0 {
			b.WriteString(", ")
		}
		c := &e.items[m]
		if c.Env != "" && noun == "envs" {
			b.WriteString(c.Env + " of ")
		}
		b.WriteString(who(k, nameOf(names, c), c.Authorizer))
	}
	if more := len(g.Members) - shown; more > 0 {
		fmt.Fprintf(&b, " +%d more", more)
	}
	b.WriteString(sinceOf(e.c, g.Since))
	return clean(b.String(), maxGroupLineBytes)
}

// clean makes s one line of valid UTF-8 of at most max bytes: control
// characters become spaces, and a longer s is cut on a rune boundary.
func clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return trunc.Cut(s, max)
}
