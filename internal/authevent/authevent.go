// Package authevent verifies, decrypts and parses the authorization events
// that WeChat pushes to a third-party platform's "authorization event URL"
// (授权事件接收URL): the component verify ticket every ten minutes, and the
// authorized, updateauthorized and unauthorized notices.
//
// The scheme is WeChat's message encryption ("安全模式"): the query carries
// timestamp, nonce and msg_signature; the body is
// <xml><AppId>…</AppId><Encrypt>…</Encrypt></xml>. msg_signature is the hex
// SHA-1 of the sorted concatenation of the platform's message-check token,
// timestamp, nonce and Encrypt. Encrypt is the base64 of AES-256-CBC (key =
// base64-decode(EncodingAESKey+"="), IV = key[:16], PKCS#7 padding to
// 32-byte blocks) over 16 random bytes, a 4-byte big-endian length, the
// XML message and the appid it is meant for.
//
// Open does all of it in the safe order: nothing beyond the envelope is
// read before the signature verifies.
package authevent

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// The errors Open and the functions it uses return, for errors.Is. An HTTP
// route answers 401 for ErrSignature, 400 for ErrDecrypt, ErrAppID and
// ErrMalformed, and 500 for ErrKey (its configuration is unusable).
var (
	// ErrSignature: msg_signature is missing or does not match.
	ErrSignature = errors.New("authevent: the signature does not match")
	// ErrDecrypt: Encrypt is not base64, not whole AES blocks, has bad
	// PKCS#7 padding, or a length field that does not fit.
	ErrDecrypt = errors.New("authevent: the message does not decrypt")
	// ErrAppID: the message is meant for another appid.
	ErrAppID = errors.New("authevent: the message is for another appid")
	// ErrMalformed: the body or the decrypted message is not the XML
	// WeChat sends, is too large, or lacks a field its InfoType needs.
	ErrMalformed = errors.New("authevent: the message is malformed")
	// ErrKey: the token, the EncodingAESKey or the appid is unusable.
	ErrKey = errors.New("authevent: the token, EncodingAESKey or appid is not valid")
)

// MaxBodyBytes bounds the envelope ParseEnvelope and Open accept. WeChat's
// authorization events are well under a kilobyte.
const MaxBodyBytes = 64 << 10

// EncodingAESKeyLen is the length of an EncodingAESKey.
const EncodingAESKeyLen = 43

// blockSize is the PKCS#7 block size of WeChat's scheme (not AES's 16).
const blockSize = 32

// Signature returns the msg_signature of a push: the hex SHA-1 of token,
// timestamp, nonce and encrypt, sorted and concatenated.
func Signature(token, timestamp, nonce, encrypt string) string {
	parts := []string{token, timestamp, nonce, encrypt}
	sort.Strings(parts)
	h := sha1.New()
	for _, p := range parts {
		io.WriteString(h, p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Verify reports whether msgSignature is the signature of the other four
// strings, comparing in constant time. Upper-case hex is accepted; an empty
// token or signature never verifies.
func Verify(token, timestamp, nonce, encrypt, msgSignature string) bool {
	if token == "" || msgSignature == "" {
		return false
	}
	want := Signature(token, timestamp, nonce, encrypt)
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(msgSignature))) == 1
}

// Crypter encrypts and decrypts the Encrypt field for one EncodingAESKey
// and one appid. It is safe for concurrent use.
type Crypter struct {
	block cipher.Block
	iv    []byte
	appID string
}

// NewCrypter returns a Crypter for the 43-character EncodingAESKey and the
// appid messages must be meant for (a third-party platform's component
// appid). The error wraps ErrKey and never holds the key.
func NewCrypter(encodingAESKey, appID string) (*Crypter, error) {
	if len(encodingAESKey) != EncodingAESKeyLen {
		return nil, fmt.Errorf("%w: the EncodingAESKey has %d characters, not %d", ErrKey, len(encodingAESKey), EncodingAESKeyLen)
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%w: the EncodingAESKey is not base64 of 32 bytes", ErrKey)
	}
	if appID == "" {
		return nil, fmt.Errorf("%w: no appid", ErrKey)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return &Crypter{block: block, iv: key[:aes.BlockSize], appID: appID}, nil
}

// AppID returns the appid the Crypter expects.
func (c *Crypter) AppID() string { return c.appID }

// Decrypt decrypts encrypt and returns the XML message it holds. It checks
// the padding, the length field and that the trailing appid is the
// expected one. Errors wrap ErrDecrypt or ErrAppID and never hold any of
// the plaintext.
func (c *Crypter) Decrypt(encrypt string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(encrypt)
	if err != nil {
		return nil, fmt.Errorf("%w: Encrypt is not base64", ErrDecrypt)
	}
	if len(raw) < blockSize || len(raw)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not whole AES blocks of at least %d bytes", ErrDecrypt, len(raw), blockSize)
	}
	plain := make([]byte, len(raw))
	cipher.NewCBCDecrypter(c.block, c.iv).CryptBlocks(plain, raw)

	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > blockSize || pad > len(plain) {
		return nil, fmt.Errorf("%w: bad padding", ErrDecrypt)
	}
	for _, b := range plain[len(plain)-pad:] {
		if int(b) != pad {
			return nil, fmt.Errorf("%w: bad padding", ErrDecrypt)
		}
	}
	content := plain[:len(plain)-pad]
	if len(content) < 20 {
		return nil, fmt.Errorf("%w: too short for the random prefix and the length", ErrDecrypt)
	}
	n := binary.BigEndian.Uint32(content[16:20])
	rest := content[20:]
	if uint64(n) > uint64(len(rest)) {
		return nil, fmt.Errorf("%w: the length field %d is longer than the message", ErrDecrypt, n)
	}
	msg, appID := rest[:n], rest[n:]
	if subtle.ConstantTimeCompare(appID, []byte(c.appID)) != 1 {
		return nil, fmt.Errorf("%w: it is not for %s", ErrAppID, c.appID)
	}
	return bytes.Clone(msg), nil
}

// Encrypt encrypts msg for the Crypter's appid with 16 fresh random bytes,
// as WeChat does. wechattest uses it to push events.
func (c *Crypter) Encrypt(msg []byte) (string, error) {
	var random [16]byte
	if _, err := rand.Read(random[:]); err != nil {
		return "", fmt.Errorf("authevent: no random bytes: %w", err)
	}
	return c.seal(random[:], msg), nil
}

// seal encrypts msg with the given 16-byte random prefix.
func (c *Crypter) seal(random, msg []byte) string {
	n := len(random) + 4 + len(msg) + len(c.appID)
	pad := blockSize - n%blockSize
	plain := make([]byte, 0, n+pad)
	plain = append(plain, random...)
	plain = binary.BigEndian.AppendUint32(plain, uint32(len(msg)))
	plain = append(plain, msg...)
	plain = append(plain, c.appID...)
	plain = append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(c.block, c.iv).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out)
}

// envelope is the pushed body. WeChat's third-party platform sends AppId;
// the same scheme elsewhere (WeCom, official accounts) sends ToUserName.
type envelope struct {
	XMLName    xml.Name `xml:"xml"`
	AppID      string   `xml:"AppId"`
	ToUserName string   `xml:"ToUserName"`
	Encrypt    string   `xml:"Encrypt"`
}

// ParseEnvelope reads the pushed body <xml><AppId>…</AppId><Encrypt>…</Encrypt></xml>
// (text or CDATA) and returns AppId (or ToUserName when there is no AppId)
// and Encrypt. A body over MaxBodyBytes, that is not that XML, or whose
// Encrypt is empty is ErrMalformed.
func ParseEnvelope(body []byte) (appID, encrypt string, err error) {
	if len(body) > MaxBodyBytes {
		return "", "", fmt.Errorf("%w: the body has %d bytes, over %d", ErrMalformed, len(body), MaxBodyBytes)
	}
	var env envelope
	if err := strictUnmarshal(body, &env); err != nil {
		return "", "", fmt.Errorf("%w: the body is not the <xml> envelope: %v", ErrMalformed, err)
	}
	if env.Encrypt == "" {
		return "", "", fmt.Errorf("%w: the envelope has no Encrypt", ErrMalformed)
	}
	appID = env.AppID
	if appID == "" {
		appID = env.ToUserName
	}
	return appID, env.Encrypt, nil
}

// strictUnmarshal decodes one XML document into v and refuses a DOCTYPE
// and anything but white space after the root element.
func strictUnmarshal(data []byte, v any) error {
	if bytes.Contains(data, []byte("<!DOCTYPE")) {
		return errors.New("a DOCTYPE is not allowed")
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(v); err != nil {
		return err
	}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return errors.New("text after the root element")
			}
		case xml.Comment, xml.ProcInst:
		default:
			return errors.New("more after the root element")
		}
	}
}

// Open checks and opens one push: the body's envelope is parsed, the
// signature is verified (ErrSignature), the Encrypt field is decrypted
// (ErrDecrypt, or ErrAppID when it is for another appid than appID) and
// the message is parsed (ErrMalformed). An unusable token, aesKey or appID
// is ErrKey. Nothing is decrypted or parsed before the signature verifies.
func Open(token, aesKey, appID, timestamp, nonce, msgSignature string, body []byte) (*Message, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: no token", ErrKey)
	}
	c, err := NewCrypter(aesKey, appID)
	if err != nil {
		return nil, err
	}
	return c.Open(token, timestamp, nonce, msgSignature, body)
}

// Open is the package's Open with this Crypter's key and appid.
func (c *Crypter) Open(token, timestamp, nonce, msgSignature string, body []byte) (*Message, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: no token", ErrKey)
	}
	envAppID, encrypt, err := ParseEnvelope(body)
	if err != nil {
		return nil, err
	}
	if !Verify(token, timestamp, nonce, encrypt, msgSignature) {
		if msgSignature == "" {
			return nil, fmt.Errorf("%w: no msg_signature", ErrSignature)
		}
		return nil, ErrSignature
	}
	if envAppID != "" && envAppID != c.appID {
		return nil, fmt.Errorf("%w: the envelope names another appid", ErrAppID)
	}
	plain, err := c.Decrypt(encrypt)
	if err != nil {
		return nil, err
	}
	m, err := ParseMessage(plain)
	if err != nil {
		return nil, err
	}
	if m.AppID != "" && m.AppID != c.appID {
		return nil, fmt.Errorf("%w: the message names another AppId", ErrAppID)
	}
	return m, nil
}

// Seal returns the body, the msg_signature of a push of msg signed with
// token at timestamp and nonce, encrypted by c: what WeChat sends. The
// envelope names c's appid as AppId.
func (c *Crypter) Seal(token, timestamp, nonce string, msg []byte) (body []byte, msgSignature string, err error) {
	encrypt, err := c.Encrypt(msg)
	if err != nil {
		return nil, "", err
	}
	var b bytes.Buffer
	b.WriteString("<xml><AppId>")
	xml.EscapeText(&b, []byte(c.appID))
	b.WriteString("</AppId><Encrypt><![CDATA[")
	b.WriteString(encrypt) // base64 holds nothing to escape
	b.WriteString("]]></Encrypt></xml>")
	return b.Bytes(), Signature(token, timestamp, nonce, encrypt), nil
}
