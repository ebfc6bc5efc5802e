package wechattest

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/authevent"
)

// Credentials of the authorization-event push, as the platform's console
// sets them: the message-check token and the EncodingAESKey.
const (
	PushToken          = "wechattest-push-token"
	PushEncodingAESKey = "d2VjaGF0dGVzdC1wdXNoLWFlcy1rZXktMDEyMzQ1Njc" // 43 characters
)

// Pusher sends signed, encrypted authorization events to a URL, as WeChat
// does to a third-party platform's authorization event URL.
type Pusher struct {
	// URL receives the pushes; its query is kept and the push's added.
	URL string
	// Client sends them; nil means http.DefaultClient.
	Client *http.Client

	s     *Server
	token string
	c     *authevent.Crypter
}

// PushResult is what the receiver answered to one push.
type PushResult struct {
	// Status is the HTTP status; 0 when no answer came.
	Status int
	// Body is the answer's body (at most 4 KiB of it); WeChat wants
	// "success".
	Body string
	// Err is why no answer came, for pushes the server started itself.
	Err string
}

// Pusher returns a Pusher to rawURL that signs with token and encrypts
// with the 43-character encodingAESKey for ComponentAppID.
func (s *Server) Pusher(rawURL, token, encodingAESKey string) (*Pusher, error) {
	c, err := authevent.NewCrypter(encodingAESKey, ComponentAppID)
	if err != nil {
		return nil, fmt.Errorf("wechattest: pusher: %w", err)
	}
	if _, err := url.Parse(rawURL); err != nil {
		return nil, fmt.Errorf("wechattest: pusher URL: %w", err)
	}
	return &Pusher{URL: rawURL, s: s, token: token, c: c}, nil
}

// Request builds the HTTP request WeChat would send for the decrypted
// event msg: POST with timestamp, nonce, encrypt_type=aes, msg_signature
// and signature in the query and the encrypted envelope as the body.
func (p *Pusher) Request(ctx context.Context, msg []byte) (*http.Request, error) {
	if p == nil || p.c == nil {
		return nil, errNoServer
	}
	u, err := url.Parse(p.URL)
	if err != nil {
		return nil, fmt.Errorf("wechattest: pusher URL: %w", err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	n, err := rand.Int(rand.Reader, big.NewInt(1e10))
	if err != nil {
		return nil, fmt.Errorf("wechattest: nonce: %w", err)
	}
	nonce := n.String()
	body, msgSig, err := p.c.Seal(p.token, ts, nonce, msg)
	if err != nil {
		return nil, fmt.Errorf("wechattest: seal: %w", err)
	}
	q := u.Query()
	q.Set("signature", plainSignature(p.token, ts, nonce))
	q.Set("timestamp", ts)
	q.Set("nonce", nonce)
	q.Set("encrypt_type", "aes")
	q.Set("msg_signature", msgSig)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(string(body)))
	if err != nil {
		return nil, fmt.Errorf("wechattest: push request: %w", err)
	}
	req.Header.Set("Content-Type", "text/xml")
	req.Header.Set("User-Agent", "Mozilla/4.0")
	return req, nil
}

// plainSignature is the signature query parameter: the SHA-1 of token,
// timestamp and nonce, sorted, without the message.
func plainSignature(token, ts, nonce string) string {
	parts := []string{token, ts, nonce}
	sort.Strings(parts)
	sum := sha1.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(sum[:])
}

// Send pushes the decrypted event msg and returns the answer.
func (p *Pusher) Send(ctx context.Context, msg []byte) (PushResult, error) {
	req, err := p.Request(ctx, msg)
	if err != nil {
		return PushResult{}, err
	}
	hc := p.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return PushResult{}, fmt.Errorf("wechattest: push: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return PushResult{Status: resp.StatusCode}, fmt.Errorf("wechattest: push answer: %w", err)
	}
	return PushResult{Status: resp.StatusCode, Body: string(b)}, nil
}

// errNoServer is the error of a Pusher not made by Server.Pusher.
var errNoServer = errors.New("wechattest: the Pusher was not made by Server.Pusher")

// Ticket issues a new verify ticket (NewTicket) and pushes it.
func (p *Pusher) Ticket(ctx context.Context) (string, PushResult, error) {
	if p == nil || p.s == nil {
		return "", PushResult{}, errNoServer
	}
	t := p.s.NewTicket()
	created, _ := p.s.TicketCreated(t)
	res, err := p.Send(ctx, TicketMessage(ComponentAppID, t, created))
	return t, res, err
}

// Authorized records that appid authorized the platform (Authorize) and
// pushes the authorized event with its new code.
func (p *Pusher) Authorized(ctx context.Context, appID string) (string, PushResult, error) {
	return p.authorized(ctx, authevent.InfoAuthorized, appID)
}

// UpdateAuthorized is Authorized with the updateauthorized event, as when
// an authorizer changes the permission sets it grants.
func (p *Pusher) UpdateAuthorized(ctx context.Context, appID string) (string, PushResult, error) {
	return p.authorized(ctx, authevent.InfoUpdateAuthorized, appID)
}

func (p *Pusher) authorized(ctx context.Context, infoType, appID string) (string, PushResult, error) {
	if p == nil || p.s == nil {
		return "", PushResult{}, errNoServer
	}
	code := p.s.Authorize(appID)
	now := time.Now()
	res, err := p.Send(ctx, AuthorizedMessage(infoType, ComponentAppID, appID, code, now, now.Add(CodeTTL)))
	return code, res, err
}

// Unauthorized removes appid's authorizer (Unauthorize) and pushes the
// unauthorized event.
func (p *Pusher) Unauthorized(ctx context.Context, appID string) (PushResult, error) {
	if p == nil || p.s == nil {
		return PushResult{}, errNoServer
	}
	p.s.Unauthorize(appID)
	return p.Send(ctx, UnauthorizedMessage(ComponentAppID, appID, time.Now()))
}

// TicketMessage returns the decrypted component_verify_ticket event.
func TicketMessage(componentAppID, ticket string, created time.Time) []byte {
	var b strings.Builder
	b.WriteString("<xml>")
	field(&b, "AppId", componentAppID)
	fmt.Fprintf(&b, "<CreateTime>%d</CreateTime>", created.Unix())
	field(&b, "InfoType", authevent.InfoVerifyTicket)
	field(&b, "ComponentVerifyTicket", ticket)
	b.WriteString("</xml>")
	return []byte(b.String())
}

// AuthorizedMessage returns the decrypted authorized or updateauthorized
// event.
func AuthorizedMessage(infoType, componentAppID, authorizerAppID, code string, created, codeExpires time.Time) []byte {
	var b strings.Builder
	b.WriteString("<xml>")
	field(&b, "AppId", componentAppID)
	fmt.Fprintf(&b, "<CreateTime>%d</CreateTime>", created.Unix())
	field(&b, "InfoType", infoType)
	field(&b, "AuthorizerAppid", authorizerAppID)
	field(&b, "AuthorizationCode", code)
	fmt.Fprintf(&b, "<AuthorizationCodeExpiredTime>%d</AuthorizationCodeExpiredTime>", codeExpires.Unix())
	field(&b, "PreAuthCode", "preauthcode@@@wechattest-"+authorizerAppID)
	b.WriteString("</xml>")
	return []byte(b.String())
}

// UnauthorizedMessage returns the decrypted unauthorized event.
func UnauthorizedMessage(componentAppID, authorizerAppID string, created time.Time) []byte {
	var b strings.Builder
	b.WriteString("<xml>")
	field(&b, "AppId", componentAppID)
	fmt.Fprintf(&b, "<CreateTime>%d</CreateTime>", created.Unix())
	field(&b, "InfoType", authevent.InfoUnauthorized)
	field(&b, "AuthorizerAppid", authorizerAppID)
	b.WriteString("</xml>")
	return []byte(b.String())
}

// field writes <name>value</name>, value escaped.
func field(b *strings.Builder, name, value string) {
	fmt.Fprintf(b, "<%s>", name)
	xml.EscapeText(b, []byte(value))
	fmt.Fprintf(b, "</%s>", name)
}
