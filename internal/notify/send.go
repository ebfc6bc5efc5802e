package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultTimeout bounds one send when the client has no timeout.
	DefaultTimeout = 5 * time.Second
	// maxAnswerBytes bounds how much of a robot's answer is read.
	maxAnswerBytes = 64 << 10
	// maxErrorText bounds the robot's own message quoted in an Outcome.
	maxErrorText = 200
)

// Outcome statuses.
const (
	StatusSent        = "sent"
	StatusFailed      = "failed"
	StatusRateLimited = "rate_limited"
	StatusSkipped     = "skipped"
	// StatusDeferred: another instance was sending to the robot; what this
	// run claimed stays owed to it and goes with a later message.
	StatusDeferred = "deferred"
)

// Outcome is one channel's entry in the event's "notifications" array.
type Outcome struct {
	// Channel is the kind and host ("wecom qyapi.weixin.qq.com"), never
	// the key.
	Channel string `json:"channel"`
	// OK is true when the robot accepted the message.
	OK bool `json:"ok"`
	// Status is sent, failed, rate_limited, deferred or skipped.
	Status string `json:"status"`
	// Error says what went wrong, with no secret in it.
	Error string `json:"error,omitempty"`
	// Owed is how many changes stay owed to the robot after this run, to
	// be sent with a later message (package alerts keeps them).
	Owed int `json:"owed,omitempty"`
	// Authorizers are the appids whose own robot this is (docs/silences-and-robots.md#owner-robots); empty for a platform robot (WXCLOUDENV_NOTIFY).
	Authorizers []string `json:"authorizers,omitempty"`
}

type weComBody struct {
	MsgType  string  `json:"msgtype"`
	Markdown weComMD `json:"markdown"`
}

type weComMD struct {
	Content string `json:"content"`
}

type dingTalkBody struct {
	MsgType  string     `json:"msgtype"`
	Markdown dingTalkMD `json:"markdown"`
}

type dingTalkMD struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

type feishuBody struct {
	Timestamp string     `json:"timestamp,omitempty"`
	Sign      string     `json:"sign,omitempty"`
	MsgType   string     `json:"msg_type"`
	Content   feishuText `json:"content"`
}

type feishuText struct {
	Text string `json:"text"`
}

// DingTalkSign is DingTalk's signature of a millisecond timestamp:
// base64(HMAC-SHA256(key = secret, message = timestamp + "\n" + secret)),
// before URL encoding.
func DingTalkSign(secret string, timestampMS int64) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestampMS, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// FeishuSign is Feishu's signature of a timestamp in seconds:
// base64(HMAC-SHA256(key = timestamp + "\n" + secret, message = empty)).
func FeishuSign(secret string, timestamp int64) string {
	m := hmac.New(sha256.New, []byte(strconv.FormatInt(timestamp, 10)+"\n"+secret))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// request builds the POST of msg to ch at now.
func request(ctx context.Context, ch Channel, msg Message, now time.Time) (*http.Request, error) {
	target := ch.url
	var body any
	switch ch.Kind {
	case WeCom:
		body = weComBody{MsgType: "markdown", Markdown: weComMD{Content: msg.Text}}
	case DingTalk:
		body = dingTalkBody{MsgType: "markdown", Markdown: dingTalkMD{Title: msg.Title, Text: msg.Text}}
		if ch.secret != "" {
			ms := now.UnixMilli()
			sep := "&"
			if !strings.Contains(target, "?") {
				sep = "?"
			}
			target += sep + "timestamp=" + strconv.FormatInt(ms, 10) + "&sign=" + url.QueryEscape(DingTalkSign(ch.secret, ms))
		}
	case Feishu:
		fb := feishuBody{MsgType: "text", Content: feishuText{Text: msg.Text}}
		if ch.secret != "" {
			ts := now.Unix()
			fb.Timestamp, fb.Sign = strconv.FormatInt(ts, 10), FeishuSign(ch.secret, ts)
		}
		body = fb
	default:
		return nil, fmt.Errorf("unknown robot kind %q", ch.Kind)
	}
	data, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode message: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(data))
	if err != nil {
		return nil, errors.New("build request: invalid robot URL")
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	return req, nil
}

// answer is what the three robots reply: WeCom and DingTalk errcode and
// errmsg; Feishu code and msg, or (older bots) StatusCode and StatusMessage.
type answer struct {
	ErrCode       *int   `json:"errcode"`
	ErrMsg        string `json:"errmsg"`
	Code          *int   `json:"code"`
	Msg           string `json:"msg"`
	StatusCode    *int   `json:"StatusCode"`
	StatusMessage string `json:"StatusMessage"`
}

// check returns nil when a accepts the message.
func (a answer) check(k Kind) error {
	switch {
	case k != Feishu && a.ErrCode != nil:
		if *a.ErrCode != 0 {
			return fmt.Errorf("robot answered errcode %d: %s", *a.ErrCode, a.ErrMsg)
		}
		return nil
	case k == Feishu && a.Code != nil:
		if *a.Code != 0 {
			return fmt.Errorf("robot answered code %d: %s", *a.Code, a.Msg)
		}
		return nil
	case k == Feishu && a.StatusCode != nil:
		if *a.StatusCode != 0 {
			return fmt.Errorf("robot answered StatusCode %d: %s", *a.StatusCode, a.StatusMessage)
		}
		return nil
	}
	return errors.New("robot answer has no status code")
}

// client returns a copy of hc (or of a new client) that follows no redirect
// and has a timeout.
func client(hc *http.Client) *http.Client {
	c := &http.Client{}
	if hc != nil {
		*c = *hc
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// Send posts msg to ch with hc (nil: a default client), following no
// redirect, with a timeout (hc's, or DefaultTimeout), reading at most 64 KiB
// of the answer and checking the robot's own status code. It does not rate
// limit (see [Notifier]).
func Send(ctx context.Context, hc *http.Client, ch Channel, msg Message) Outcome {
	out := Outcome{Channel: ch.Name(), Status: StatusFailed}
	if err := send(ctx, client(hc), ch, msg); err != nil {
		out.Error = clean(ch.scrub(nil, err.Error()), 2*maxErrorText)
		return out
	}
	out.OK, out.Status = true, StatusSent
	return out
}

func send(ctx context.Context, hc *http.Client, ch Channel, msg Message) error {
	req, err := request(ctx, ch, msg, time.Now())
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return transportError(ctx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return fmt.Errorf("read answer: %w", transportError(ctx, err))
	}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fmt.Errorf("HTTP %d (redirects are not followed)", resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	case len(data) > maxAnswerBytes:
		return fmt.Errorf("answer over %d bytes", maxAnswerBytes)
	}
	var a answer
	if err := json.Unmarshal(data, &a); err != nil {
		return errors.New("answer is not JSON")
	}
	if err := a.check(ch.Kind); err != nil {
		return errors.New(clean(err.Error(), maxErrorText))
	}
	return nil
}

// transportError strips the URL that *url.Error carries.
func transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("post: %w", ctx.Err())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return errors.New("post: timeout")
		}
		return fmt.Errorf("post: %v", ue.Err)
	}
	return fmt.Errorf("post: %v", err)
}
