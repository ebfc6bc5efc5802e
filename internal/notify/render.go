package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/wxcloudenv/wxcloudenv/internal/alertstate"
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
	// Lines is the number of changes and reminders shown; Omitted the number
	// counted in the "… and N more" line.
	Lines, Omitted int
}

// Priorities, most important first.
const (
	prioFailure = iota
	prioSevere
	prioNew
	prioReminder
	prioResolved
)

type item struct {
	prio  int
	label string
	c     alertstate.Change
}

// Render returns the message r makes for a robot of kind k, without sending
// it: what `make run` previews. Lines are ordered failures, new HALTED or
// UNAVAILABLE alerts, other new alerts, reminders, then resolved ones, and
// cut on whole lines to the robot's limit with a last "… and N more" line.
func Render(k Kind, r Report) Message {
	items := make([]item, 0, len(r.Changes)+len(r.Reminders))
	var nNew, nResolved int
	for _, c := range r.Changes {
		it := item{prio: prioNew, label: "NEW", c: c}
		switch {
		case c.Change == alertstate.ChangeResolved:
			it.prio, it.label = prioResolved, "RESOLVED"
			nResolved++
		case c.Resource == alertstate.ResourceOperation:
			it.prio, it.label = prioFailure, "FAILING"
			nNew++
		case c.Status == "HALTED" || c.Status == "UNAVAILABLE":
			it.prio = prioSevere
			nNew++
		default:
			nNew++
		}
		items = append(items, it)
	}
	for _, c := range r.Reminders {
		items = append(items, item{prio: prioReminder, label: "STILL OPEN", c: c})
	}
	slices.SortStableFunc(items, func(a, b item) int { return a.prio - b.prio })

	title := titleOf(r, nNew, nResolved, len(r.Reminders))
	head := title + "\n"
	if k != Feishu {
		head = "### " + title + "\n"
	}
	limit, cost := budget(k)
	var b strings.Builder
	b.WriteString(head)
	used := cost(head)
	// Keep lines while they fit with room left for "… and N more"; only
	// the lines kept and the few after them are formatted, however many
	// changes there are.
	reserve := cost(moreLine(len(items)))
	var kept []string
	shown := 0
	for shown < len(items) {
		l := formatLine(k, items[shown])
		c := cost(l)
		if used+c+reserve > limit {
			break
		}
		kept = append(kept, l)
		used += c
		shown++
	}
	if shown < len(items) {
		// Without the reserve, the rest may still fit as a whole.
		rest, restCost := []string{}, 0
		for _, it := range items[shown:] {
			l := formatLine(k, it)
			restCost += cost(l)
			if used+restCost > limit {
				break
			}
			rest = append(rest, l)
		}
		if used+restCost <= limit {
			kept = append(kept, rest...)
			shown = len(items)
		}
	}
	for _, l := range kept {
		b.WriteString(l)
	}
	if shown < len(items) {
		b.WriteString(moreLine(len(items) - shown))
	}
	return Message{Title: title, Text: strings.TrimSuffix(b.String(), "\n"), Lines: shown, Omitted: len(items) - shown}
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

func formatLine(k Kind, it item) string {
	if k == Feishu {
		return "• " + it.label + " " + describe(it.c) + "\n"
	}
	return "- **" + it.label + "** " + describe(it.c) + "\n"
}

// budget returns the limit of k's messages and the cost of a piece of text
// against it. DingTalk's and Feishu's are measured JSON-escaped, as sent.
func budget(k Kind) (int, func(string) int) {
	switch k {
	case DingTalk:
		return DingTalkMaxText, escapedLen
	case Feishu:
		// The body is the envelope plus the escaped text.
		return FeishuMaxBody - feishuEnvelope, escapedLen
	default:
		return WeComMaxContent, func(s string) int { return len(s) }
	}
}

// feishuEnvelope is the size of a signed Feishu body around its text.
var feishuEnvelope = func() int {
	b, _ := json.Marshal(feishuBody{Timestamp: "1700000000", Sign: strings.Repeat("x", 44), MsgType: "text", Content: feishuText{Text: ""}})
	return len(b)
}()

func escapedLen(s string) int {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	_ = enc.Encode(s)    // a string always encodes
	return buf.Len() - 3 // the quotes and the newline
}

// describe is one change's line content, without its label.
func describe(c alertstate.Change) string {
	var b strings.Builder
	if c.Authorizer != "" {
		b.WriteString(c.Authorizer + " ")
	}
	b.WriteString(c.Operation)
	if c.Resource == alertstate.ResourceOperation {
		b.WriteString(": " + c.Kind)
		if c.ErrCode != 0 {
			fmt.Fprintf(&b, " errcode %d", c.ErrCode)
		}
	} else {
		b.WriteString(" " + c.Env + " " + c.Resource)
		if c.Status != "" && c.Change != alertstate.ChangeResolved {
			b.WriteString(" " + c.Status)
		}
	}
	if c.Message != "" && c.Change != alertstate.ChangeResolved {
		b.WriteString(": " + c.Message)
	}
	switch {
	case c.Change == alertstate.ChangeResolved && c.Status != "":
		b.WriteString(" (was " + c.Status + " since " + c.Since.UTC().Format(time.RFC3339) + ")")
	case c.Change == alertstate.ChangeResolved:
		b.WriteString(" (failing since " + c.Since.UTC().Format(time.RFC3339) + ")")
	case !c.Since.IsZero():
		b.WriteString(" (since " + c.Since.UTC().Format(time.RFC3339) + ")")
	}
	return clean(b.String(), maxLineBytes)
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
