package status

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/wxcloudenv/wxcloudenv/internal/appid"
	"github.com/wxcloudenv/wxcloudenv/internal/history"
)

// safe is HTML written by this package. Only untyped string constants
// convert to it implicitly, so a dynamic string cannot reach the output
// unescaped without an explicit conversion (there is none outside this
// file's helpers).
type safe string

// writer builds a page. Dynamic text goes through text (element text and
// double-quoted attribute values), numbers through num, links through
// authorizerLink.
type writer struct {
	b []byte
	// base is the way from the page to …/status's folder: "" on the
	// main page, "../../" on an authorizer's.
	base safe
}

func (w *writer) raw(h safe) { w.b = append(w.b, h...) }

// text writes s escaped for element text and for a double-quoted attribute
// value: & < > " ' are replaced by references, invalid UTF-8 and NUL by
// U+FFFD, other C0 controls (but tab and newline) dropped.
func (w *writer) text(s string) { w.b = appendEscaped(w.b, s) }

func (w *writer) num(n int) { w.b = strconv.AppendInt(w.b, int64(n), 10) }

func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '&':
				b = append(b, "&amp;"...)
			case c == '<':
				b = append(b, "&lt;"...)
			case c == '>':
				b = append(b, "&gt;"...)
			case c == '"':
				b = append(b, "&#34;"...)
			case c == '\'':
				b = append(b, "&#39;"...)
			case c == 0:
				b = append(b, "\uFFFD"...)
			case c < 0x20 && c != '\t' && c != '\n', c == 0x7f:
				// dropped
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return b
}

// validAppID reports whether s may be a path segment of a link: an appid of
// docs/contract.md#the-fleet, 1–64 characters of [A-Za-z0-9_].
func validAppID(s string) bool { return appid.Valid(s) }

// ValidAppID is validAppID for the routes.
func ValidAppID(s string) bool { return validAppID(s) }

// authorizer writes an authorizer's name and appid, linked to its page
// (relative to base, "" on the main page, "../../" on an authorizer page)
// when the appid is valid.
func (w *writer) authorizer(appid, name string) {
	if appid == "" {
		w.raw(`<span class="mut">—</span>`)
		return
	}
	if name != "" {
		w.raw(`<span class="nm">`)
		w.text(short(name, maxNameRunes))
		w.raw(`</span> `)
	}
	if validAppID(appid) {
		// The segment is [A-Za-z0-9_] only: nothing to escape in a URL.
		w.raw(`<a href="`)
		w.raw(w.base)
		w.raw(`status/authorizers/`)
		w.text(appid)
		w.raw(`"><code>`)
		w.text(appid)
		w.raw(`</code></a>`)
		return
	}
	w.raw(`<code>`)
	w.text(appid)
	w.raw(`</code>`)
}

// maxNameRunes bounds a name as shown in lists (WeChat's nick names are
// far shorter; a longer one is cut with an ellipsis).
const maxNameRunes = 64

// short cuts s to at most n runes, with an ellipsis when cut.
func short(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + "…"
		}
		i++
	}
	return s
}

const timeLayout = "2006-01-02 15:04 UTC"

// when writes t as a date, and its age relative to now.
func (w *writer) when(t, now time.Time) {
	if t.IsZero() {
		w.raw(`<span class="mut">unknown</span>`)
		return
	}
	w.raw(`<time datetime="`)
	w.text(t.UTC().Format(time.RFC3339))
	w.raw(`">`)
	w.text(t.UTC().Format(timeLayout))
	w.raw(`</time> <span class="mut">(`)
	w.text(Ago(now.Sub(t)))
	if t.After(now) {
		w.raw(` from now)</span>`)
	} else {
		w.raw(` ago)</span>`)
	}
}

// td opens a cell labelled for narrow screens.
func (w *writer) td(label safe) {
	w.raw(`<td data-l="`)
	w.raw(label)
	w.raw(`">`)
}

const css safe = `:root{color-scheme:light dark;--bg:#fff;--fg:#1b1b1f;--mut:#5f6368;--line:#dadce0;--card:#f4f6f8;--bad:#b3261e;--warn:#9a5b00;--ok:#1e7b34;--acc:#1a5fb4}
@media (prefers-color-scheme:dark){:root{--bg:#121316;--fg:#e6e7ea;--mut:#a0a4aa;--line:#3a3d42;--card:#1d1f23;--bad:#ff8a80;--warn:#f6c453;--ok:#7fd18f;--acc:#8ab4f8}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;overflow-wrap:anywhere;word-break:break-word}
main{max-width:1120px;margin:0 auto;padding:12px 14px 40px}
h1{font-size:1.4em;margin:.2em 0}
h2{font-size:1.12em;margin:1.5em 0 .5em;padding-bottom:.2em;border-bottom:1px solid var(--line)}
h3{font-size:1em;margin:1em 0 .4em}
p{margin:.3em 0}
.mut{color:var(--mut)}.bad{color:var(--bad)}.warn{color:var(--warn)}.ok{color:var(--ok)}
.st{font-weight:600}
.count{display:inline-block;min-width:1.7em;padding:0 .45em;margin-left:.3em;border-radius:1em;background:var(--card);border:1px solid var(--line);font-size:.85em;text-align:center;font-weight:600}
.nm{font-weight:600}
.err{border:1px solid var(--bad);color:var(--bad);border-radius:6px;padding:8px 10px;margin:10px 0}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:8px;margin:12px 0}
.tile{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 12px}
.tile b{display:block;font-size:1.7em;line-height:1.2}
table{width:100%;border-collapse:collapse;table-layout:fixed}
th,td{text-align:left;vertical-align:top;padding:5px 6px;border-bottom:1px solid var(--line)}
th{font-size:.85em;color:var(--mut);font-weight:600}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
a{color:var(--acc)}
.chart{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:6px}
svg{display:block;width:100%;height:auto}
svg .g{stroke:var(--line);stroke-width:1}
svg .f{stroke:var(--bad);fill:none;stroke-width:1.6}
svg .a{stroke:var(--warn);fill:none;stroke-width:1.6}
svg text{fill:var(--mut);font-size:11px;font-family:system-ui,sans-serif}
.key{display:inline-block;width:.9em;height:.25em;vertical-align:middle;margin:0 .3em 0 .8em}
.key.f{background:var(--bad)}.key.a{background:var(--warn)}
@media (max-width:700px){
thead{display:none}
table,tbody,tr,td{display:block;width:100%}
tr{border:1px solid var(--line);border-radius:8px;margin:0 0 8px;padding:4px 2px}
td{border:0;padding:2px 8px}
td::before{content:attr(data-l) ": ";color:var(--mut);font-size:.85em}
svg text{font-size:19px}
}
`

func (w *writer) head(title string) {
	w.raw(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="color-scheme" content="light dark"><meta name="referrer" content="no-referrer"><title>`)
	w.text(title)
	w.raw(`</title><style>`)
	w.raw(css)
	w.raw(`</style></head><body><main>`)
}

func (w *writer) errors(errs []string) {
	for _, e := range errs {
		w.raw(`<p class="err" role="alert">`)
		w.text(e)
		w.raw(`; what is shown may be incomplete.</p>`)
	}
}

func statusClass(s string) safe {
	switch s {
	case "OK", "NORMAL", "ok", "resolved":
		return "ok"
	case "STALE", "MISSING", "UNKNOWN", "reminder":
		return "warn"
	}
	return "bad"
}

// HTML writes the page.
func (d *Data) HTML() []byte {
	w := &writer{b: make([]byte, 0, 16<<10+len(d.Alerts)*400+len(d.Changes)*400+len(d.Runs)*24)}
	now := d.Generated
	w.head("wxcloudenv status")
	w.raw(`<header><h1>wxcloudenv status</h1><p class="mut">As the runs left it in the store, at `)
	w.text(now.UTC().Format(timeLayout))
	w.raw(`; this page calls no WeChat API. <a href="status.json">JSON</a></p></header>`)
	w.errors(d.Errors)

	w.raw(`<section id="counts" class="tiles">`)
	for _, t := range []struct {
		label safe
		n     int
		cls   safe
	}{
		{"authorizers", d.Counts.Authorizers, ""},
		{"failing", d.Counts.Failing, cond[safe](d.Counts.Failing > 0, "bad", "ok")},
		{"open alerts", d.Counts.OpenAlerts, cond[safe](d.Counts.OpenAlerts > 0, "bad", "ok")},
		{"silenced", d.Counts.Silenced, "mut"},
	} {
		w.raw(`<div class="tile"><b class="`)
		w.raw(t.cls)
		w.raw(`">`)
		w.num(t.n)
		w.raw(`</b>`)
		w.raw(t.label)
		w.raw(`</div>`)
	}
	w.raw(`</section>`)

	w.raw(`<section id="runs"><h2>Last runs</h2>`)
	if len(d.LastRuns) == 0 {
		w.raw(`<p class="mut">No run in the last 7 days.</p>`)
	} else {
		w.raw(`<table><thead><tr><th>kind</th><th>started</th><th>outcome</th><th>counts</th></tr></thead><tbody>`)
		for _, r := range d.LastRuns {
			w.raw(`<tr>`)
			w.td("kind")
			w.text(string(r.Kind))
			if r.Part != "" {
				w.raw(` <span class="mut">`)
				w.text(r.Part)
				w.raw(`</span>`)
			}
			w.raw(`</td>`)
			w.td("started")
			w.when(r.Time, now)
			w.raw(`</td>`)
			w.td("outcome")
			w.runOutcome(r)
			w.raw(`</td>`)
			w.td("counts")
			w.runCounts(r)
			w.raw(`</td></tr>`)
		}
		w.raw(`</tbody></table>`)
	}
	w.raw(`</section>`)

	w.raw(`<section id="incidents"><h2>Open incidents <span class="count">`)
	w.num(len(d.Incidents))
	w.raw(`</span></h2>`)
	if len(d.Incidents) == 0 {
		w.raw(`<p class="ok">None.</p>`)
	} else {
		w.raw(`<table><thead><tr><th style="width:34%">cause</th><th style="width:10%">how many</th><th style="width:30%">who</th><th>since</th></tr></thead><tbody>`)
		for _, in := range d.Incidents {
			w.raw(`<tr>`)
			w.td("cause")
			w.raw(`<code>`)
			w.text(in.Operation)
			w.raw(`</code> `)
			w.text(in.ResourceType)
			w.raw(` <span class="st bad">`)
			if in.Kind != "" {
				w.text(in.Kind)
				if in.ErrCode != 0 {
					w.raw(` `)
					w.num(in.ErrCode)
				}
			} else {
				w.text(in.Status)
			}
			w.raw(`</span>`)
			if in.Example != "" {
				w.raw(`<br><span class="mut">`)
				w.text(in.Example)
				w.raw(`</span>`)
			}
			w.raw(`</td>`)
			w.td("how many")
			w.num(in.Count)
			w.raw(`</td>`)
			w.td("who")
			for i, a := range in.Authorizers[:min(len(in.Authorizers), maxIncidentNames)] {
				if i > 0 {
					w.raw(`, `)
				}
				name := ""
				if i < len(in.Names) && in.Names[i] != a {
					name = in.Names[i]
				}
				w.authorizer(a, name)
			}
			if more := in.Count - min(len(in.Authorizers), maxIncidentNames); more > 0 && len(in.Authorizers) > 0 {
				w.raw(` <span class="mut">+`)
				w.num(more)
				w.raw(` more</span>`)
			} else if len(in.Authorizers) == 0 {
				w.raw(`<span class="mut">the platform</span>`)
			}
			w.raw(`</td>`)
			w.td("since")
			w.when(in.Since, now)
			w.raw(`</td></tr>`)
		}
		w.raw(`</tbody></table>`)
	}
	w.raw(`</section>`)

	w.raw(`<section id="alerts"><h2>Open alerts <span class="count">`)
	w.num(d.Counts.OpenAlerts)
	w.raw(`</span></h2>`)
	w.alertTable(d.Alerts, d.AlertsOmitted, now, false)
	w.raw(`</section>`)

	w.raw(`<section id="failures"><h2>Failing checks <span class="count">`)
	w.num(len(d.Failures) + d.FailuresOmitted)
	w.raw(`</span></h2>`)
	w.alertTable(d.Failures, d.FailuresOmitted, now, true)
	w.raw(`</section>`)

	w.raw(`<section id="tokens"><h2>Token health</h2>`)
	if len(d.Tokens) == 0 {
		w.raw(`<p class="mut">No component platform configured (WECHAT_COMPONENT_APPID): tokens come from the variables.</p>`)
	} else {
		w.raw(`<table><thead><tr><th style="width:28%">token</th><th style="width:14%">status</th><th>detail</th></tr></thead><tbody>`)
		for _, t := range d.Tokens {
			w.raw(`<tr>`)
			w.td("token")
			w.text(t.Name)
			w.raw(`</td>`)
			w.td("status")
			w.raw(`<span class="st `)
			w.raw(statusClass(t.Status))
			w.raw(`">`)
			w.text(t.Status)
			w.raw(`</span></td>`)
			w.td("detail")
			w.text(t.Detail)
			w.raw(`</td></tr>`)
		}
		w.raw(`</tbody></table>`)
	}
	w.raw(`</section>`)

	w.raw(`<section id="silences"><h2>Active silences <span class="count">`)
	w.num(len(d.Silences))
	w.raw(`</span></h2>`)
	if len(d.Silences) == 0 {
		w.raw(`<p class="mut">None.</p>`)
	} else {
		w.raw(`<table><thead><tr><th>matchers</th><th>ends</th><th>comment</th></tr></thead><tbody>`)
		for _, s := range d.Silences {
			w.raw(`<tr>`)
			w.td("matchers")
			first := true
			for _, k := range sortedKeys(s.Matchers) {
				if !first {
					w.raw(`, `)
				}
				first = false
				w.raw(`<code>`)
				w.text(k)
				w.raw(`=`)
				w.text(s.Matchers[k])
				w.raw(`</code>`)
			}
			w.raw(`</td>`)
			w.td("ends")
			w.when(s.EndsAt, now)
			w.raw(`</td>`)
			w.td("comment")
			w.text(s.Comment)
			if s.CreatedBy != "" {
				w.raw(` <span class="mut">— `)
				w.text(s.CreatedBy)
				w.raw(`</span>`)
			}
			w.raw(`</td></tr>`)
		}
		w.raw(`</tbody></table>`)
	}
	w.raw(`</section>`)

	w.raw(`<section id="history"><h2>Last 7 days</h2>`)
	w.chart(d.Runs, now)
	w.raw(`<h3>Changes</h3>`)
	w.changeTable(d.Changes, d.MoreChanges, now, true)
	w.raw(`</section></main></body></html>`)
	return w.b
}

func (w *writer) runOutcome(r history.Run) {
	if r.OK {
		w.raw(`<span class="st ok">ok</span>`)
		return
	}
	w.raw(`<span class="st bad">failed</span>`)
	if r.Failure != "" {
		w.raw(` <span class="mut">`)
		w.text(r.Failure)
		w.raw(`</span>`)
	}
}

func (w *writer) runCounts(r history.Run) {
	if r.Authorizers > 0 {
		w.num(r.Authorizers)
		w.raw(` authorizers, `)
		w.num(r.FailedAuthorizers)
		w.raw(` failed; `)
	}
	w.num(r.Operations)
	w.raw(` operations, `)
	w.num(r.FailedOperations)
	w.raw(` failed; `)
	w.num(r.Alerts)
	w.raw(` alerts, `)
	w.num(r.Changes)
	w.raw(` changes; `)
	w.num(int(r.DurationMS))
	w.raw(` ms`)
}

func (w *writer) alertTable(l []Alert, omitted int, now time.Time, failures bool) {
	if len(l) == 0 {
		w.raw(`<p class="ok">None.</p>`)
		return
	}
	if failures {
		w.raw(`<table><thead><tr><th style="width:24%">authorizer</th><th style="width:18%">operation</th><th style="width:14%">error</th><th>message</th><th style="width:20%">since</th></tr></thead><tbody>`)
	} else {
		w.raw(`<table><thead><tr><th style="width:24%">authorizer</th><th style="width:16%">env</th><th style="width:18%">resource</th><th style="width:12%">status</th><th>since</th></tr></thead><tbody>`)
	}
	for _, a := range l {
		w.raw(`<tr>`)
		w.td("authorizer")
		w.authorizer(a.Authorizer, a.Name)
		w.raw(`</td>`)
		if failures {
			w.td("operation")
			w.raw(`<code>`)
			w.text(a.Operation)
			w.raw(`</code></td>`)
			w.td("error")
			w.raw(`<span class="st bad">`)
			w.text(a.Kind)
			if a.ErrCode != 0 {
				w.raw(` `)
				w.num(a.ErrCode)
			}
			w.raw(`</span></td>`)
			w.td("message")
			w.text(a.Message)
			w.raw(`</td>`)
		} else {
			w.td("env")
			w.raw(`<code>`)
			w.text(a.Env)
			w.raw(`</code></td>`)
			w.td("resource")
			w.text(a.Resource)
			w.raw(`</td>`)
			w.td("status")
			w.raw(`<span class="st bad" title="`)
			w.text(a.Message)
			w.raw(`">`)
			w.text(a.Status)
			w.raw(`</span></td>`)
		}
		w.td("since")
		w.when(a.Since, now)
		w.raw(`</td></tr>`)
	}
	w.raw(`</tbody></table>`)
	if omitted > 0 {
		w.raw(`<p class="mut">… and `)
		w.num(omitted)
		w.raw(` more (the oldest are listed; status.json has the same).</p>`)
	}
}

func (w *writer) changeTable(l []history.Change, more bool, now time.Time, withAuthorizer bool) {
	if len(l) == 0 {
		w.raw(`<p class="mut">No change in the last 7 days.</p>`)
		return
	}
	w.raw(`<table><thead><tr><th style="width:22%">when</th><th style="width:10%">change</th>`)
	if withAuthorizer {
		w.raw(`<th style="width:22%">authorizer</th>`)
	}
	w.raw(`<th>what</th></tr></thead><tbody>`)
	for _, c := range l {
		w.raw(`<tr>`)
		w.td("when")
		w.when(c.Time, now)
		w.raw(`</td>`)
		w.td("change")
		w.raw(`<span class="st `)
		w.raw(statusClass(c.Change))
		w.raw(`">`)
		w.text(c.Change)
		w.raw(`</span></td>`)
		if withAuthorizer {
			w.td("authorizer")
			w.authorizer(c.Authorizer, "")
			w.raw(`</td>`)
		}
		w.td("what")
		w.raw(`<code>`)
		w.text(c.Operation)
		w.raw(`</code> `)
		if c.Env != "" {
			w.raw(`<code>`)
			w.text(c.Env)
			w.raw(`</code> `)
		}
		w.text(c.Resource)
		w.raw(` <b>`)
		if c.Kind != "" {
			w.text(c.Kind)
			if c.ErrCode != 0 {
				w.raw(` `)
				w.num(c.ErrCode)
			}
		} else {
			w.text(c.Status)
		}
		w.raw(`</b>`)
		if c.Message != "" {
			w.raw(`<br><span class="mut">`)
			w.text(c.Message)
			w.raw(`</span>`)
		}
		w.raw(`</td></tr>`)
	}
	w.raw(`</tbody></table>`)
	if more {
		w.raw(`<p class="mut">Older changes are not listed.</p>`)
	}
}

// HTML writes one authorizer's page.
func (d *AuthorizerData) HTML() []byte {
	// Links on this page are relative to …/status/authorizers/APPID.
	w := &writer{b: make([]byte, 0, 8<<10+len(d.Changes)*400), base: "../../"}
	now := d.Generated
	title := d.Authorizer
	if d.Name != "" {
		title = d.Name + " (" + d.Authorizer + ")"
	}
	w.head(title + " — wxcloudenv status")
	w.raw(`<header><p><a href="../../status">← the fleet</a></p><h1>`)
	if d.Name != "" {
		w.raw(`<span class="nm">`)
		w.text(d.Name)
		w.raw(`</span> `)
	}
	w.raw(`<code>`)
	w.text(d.Authorizer)
	w.raw(`</code></h1><p class="mut">As the runs left it in the store, at `)
	w.text(now.UTC().Format(timeLayout))
	w.raw(`; this page calls no WeChat API.</p></header>`)
	w.errors(d.Errors)

	w.raw(`<section id="envs"><h2>Environments as last seen</h2>`)
	if len(d.Envs) == 0 {
		w.raw(`<p class="mut">No environment needed attention in the last 7 days (healthy environments are not kept).</p>`)
	} else {
		w.raw(`<table><thead><tr><th style="width:24%">env</th><th style="width:24%">resource</th><th style="width:22%">status</th><th>seen</th></tr></thead><tbody>`)
		for _, e := range d.Envs {
			w.raw(`<tr>`)
			w.td("env")
			w.raw(`<code>`)
			w.text(e.Env)
			w.raw(`</code></td>`)
			w.td("resource")
			w.text(e.Resource)
			w.raw(`</td>`)
			w.td("status")
			w.raw(`<span class="st `)
			w.raw(cond[safe](e.Open, "bad", "ok"))
			w.raw(`">`)
			w.text(e.Status)
			w.raw(`</span></td>`)
			w.td("seen")
			w.when(e.At, now)
			w.raw(`</td></tr>`)
		}
		w.raw(`</tbody></table>`)
	}
	w.raw(`</section>`)

	alerts, failures := []Alert{}, []Alert{}
	for _, a := range d.Open {
		if a.Resource == "operation" {
			failures = append(failures, a)
		} else {
			alerts = append(alerts, a)
		}
	}
	w.raw(`<section id="alerts"><h2>Open alerts <span class="count">`)
	w.num(len(alerts))
	w.raw(`</span></h2>`)
	w.alertTable(alerts, 0, now, false)
	w.raw(`</section><section id="failures"><h2>Failing checks <span class="count">`)
	w.num(len(failures))
	w.raw(`</span></h2>`)
	w.alertTable(failures, 0, now, true)
	w.raw(`</section>`)

	w.raw(`<section id="robots"><h2>Robots</h2>`)
	if len(d.Robots) == 0 {
		w.raw(`<p class="mut">No robot of its own; the platform's robots get its changes.</p>`)
	} else {
		w.raw(`<ul>`)
		for _, r := range d.Robots {
			w.raw(`<li>`)
			w.text(r)
			w.raw(`</li>`)
		}
		w.raw(`</ul>`)
	}
	w.raw(`</section><section id="history"><h2>Changes, last 7 days</h2>`)
	w.changeTable(d.Changes, d.MoreChanges, now, false)
	w.raw(`</section></main></body></html>`)
	return w.b
}
