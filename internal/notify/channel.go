// Package notify sends the changes of a run (docs/contract.md#alerts-and-robots) to group
// robots: WeCom (企业微信), DingTalk (钉钉) and Feishu/Lark (飞书). One message
// per run and channel, the most important lines first, cut to each robot's
// size limit; rate-limited across instances through a [store.Store]; every
// robot's answer checked. No robot key, token or signing secret ever appears
// in an [Outcome], an error or a log line.
package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// Kind is a robot's kind.
type Kind string

// The robots.
const (
	WeCom    Kind = "wecom"
	DingTalk Kind = "dingtalk"
	Feishu   Kind = "feishu"
)

// Variable is the variable the channels come from; errors name it.
const Variable = "WXCLOUDENV_NOTIFY"

// Secrets are the optional signing secrets
// (WXCLOUDENV_NOTIFY_DINGTALK_SECRET, WXCLOUDENV_NOTIFY_FEISHU_SECRET),
// applied to every channel of their kind.
type Secrets struct {
	DingTalk string
	Feishu   string
}

// Channel is one robot webhook. Its URL, token and secret are unexported and
// never printed: String, GoString, LogValue and JSON show only the kind and
// host.
type Channel struct {
	// Kind is the robot's kind.
	Kind Kind
	// Host is the webhook's host (and port), for outcomes and logs.
	Host string

	url    string // the whole webhook URL (a secret)
	token  string // key, access_token or hook token (a secret)
	secret string // signing secret, or ""
}

// Name is the channel as outcomes and logs show it: kind and host.
func (c Channel) Name() string { return string(c.Kind) + " " + c.Host }

// String returns c.Name(): the webhook URL is never printed.
func (c Channel) String() string { return c.Name() }

// GoString returns c.Name() too, for %#v.
func (c Channel) GoString() string { return "notify.Channel{" + c.Name() + "}" }

// LogValue logs only the kind and host.
func (c Channel) LogValue() slog.Value { return slog.StringValue(c.Name()) }

// MarshalText encodes only the kind and host.
func (c Channel) MarshalText() ([]byte, error) { return []byte(c.Name()), nil }

// ID identifies the robot in store keys (its rate counters, what it is
// owed): a hash of its kind and token, never the token.
func (c Channel) ID() string {
	sum := sha256.Sum256([]byte(string(c.Kind) + "\x00" + c.token))
	return hex.EncodeToString(sum[:8])
}

// Signed reports whether messages to c are signed.
func (c Channel) Signed() bool { return c.secret != "" }

// scrub removes c's secrets, and every secret sc keeps, from s.
func (c Channel) scrub(sc *wechat.Scrubber, s string) string {
	return sc.Scrub(s, c.url, c.token, url.QueryEscape(c.token), c.secret)
}

// Secrets returns the channel's webhook URL, token and signing secret, for
// the runtime's scrubber to keep: no log or error shows them.
func (c Channel) Secrets() []string { return []string{c.url, c.token, c.secret} }

// Parse reads WXCLOUDENV_NOTIFY: comma-separated robot webhook URLs,
// recognised by path on any host (http or https):
//
//   - WeCom: …/cgi-bin/webhook/send?key=KEY
//   - DingTalk: …/robot/send?access_token=TOKEN
//   - Feishu/Lark: …/open-apis/bot/v2/hook/TOKEN
//
// Empty urls means no channel. Keep every channel's Secrets in the
// runtime's scrubber. An error names the variable and the entry's
// position, never the URL.
func Parse(urls string, s Secrets) ([]Channel, error) {
	if strings.TrimSpace(urls) == "" {
		return nil, nil
	}
	parts := strings.Split(urls, ",")
	chans := make([]Channel, 0, len(parts))
	for i, p := range parts {
		ch, err := parseOne(strings.TrimSpace(p), s)
		if err != nil {
			return nil, fmt.Errorf("%s: entry %d of %d: %s", Variable, i+1, len(parts), err)
		}
		for j, prev := range chans {
			if prev.Kind == ch.Kind && prev.token == ch.token {
				return nil, fmt.Errorf("%s: entry %d of %d: the same robot as entry %d", Variable, i+1, len(parts), j+1)
			}
		}
		chans = append(chans, ch)
	}
	return chans, nil
}

// parseOne's errors never quote the URL: url.Parse's own errors do, so they
// are dropped.
func parseOne(raw string, s Secrets) (Channel, error) {
	if raw == "" {
		return Channel{}, fmt.Errorf("empty (remove the extra comma)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Channel{}, fmt.Errorf("not a valid URL")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return Channel{}, fmt.Errorf("scheme must be https or http")
	}
	if u.Host == "" {
		return Channel{}, fmt.Errorf("no host")
	}
	if u.User != nil {
		return Channel{}, fmt.Errorf("user info is not allowed in a robot URL (host %s)", u.Host)
	}
	ch := Channel{Host: u.Host, url: raw}
	q := u.Query()
	switch path := u.EscapedPath(); {
	case strings.HasSuffix(path, "/cgi-bin/webhook/send"):
		ch.Kind, ch.token = WeCom, q.Get("key")
		if ch.token == "" {
			return Channel{}, fmt.Errorf("the WeCom robot URL (host %s) has no key parameter", u.Host)
		}
	case strings.HasSuffix(path, "/robot/send"):
		ch.Kind, ch.token, ch.secret = DingTalk, q.Get("access_token"), s.DingTalk
		if ch.token == "" {
			return Channel{}, fmt.Errorf("the DingTalk robot URL (host %s) has no access_token parameter", u.Host)
		}
	case strings.Contains(path, "/open-apis/bot/v2/hook/"):
		_, tok, _ := strings.Cut(path, "/open-apis/bot/v2/hook/")
		ch.Kind, ch.token, ch.secret = Feishu, tok, s.Feishu
		if tok == "" || strings.Contains(tok, "/") {
			return Channel{}, fmt.Errorf("the Feishu bot URL (host %s) has no hook token after /open-apis/bot/v2/hook/", u.Host)
		}
	default:
		return Channel{}, fmt.Errorf("not a WeCom (/cgi-bin/webhook/send), DingTalk (/robot/send) or Feishu (/open-apis/bot/v2/hook/…) robot URL (host %s)", u.Host)
	}
	return ch, nil
}

// ParseURL reads one robot webhook URL as [Parse] recognises it, with no
// signing secret: an authorizer's own robots (docs/silences-and-robots.md#owner-robots). Its
// error names neither the variable nor the URL, only what is wrong and
// the host.
func ParseURL(raw string) (Channel, error) {
	return parseOne(strings.TrimSpace(raw), Secrets{})
}

// SameRobot reports whether a and b are the same robot (kind and token),
// whatever their hosts or signing.
func SameRobot(a, b Channel) bool { return a.Kind == b.Kind && a.token == b.token }
