// Package tc3 signs Tencent Cloud API 3.0 requests with TC3-HMAC-SHA256
// (cloud.tencent.com/document/api/213/30654), for the SCF client that
// speaks the API over net/http instead of linking tencentcloud-sdk-go. Its
// signatures are tested byte for byte against the SDK's own.
package tc3

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"
)

// Algorithm is the signature's algorithm, the Authorization header's
// first word.
const Algorithm = "TC3-HMAC-SHA256"

// Signer signs requests with one key.
type Signer struct {
	// ID and Key are the SecretId and SecretKey; Token is the session
	// token of temporary credentials (an execution role's), or empty.
	ID, Key, Token string
}

// Sign sets X-TC-Timestamp, X-TC-Token (with a session token) and
// Authorization on req, a POST to "/" whose Content-Type is set and whose
// body is payload, for service (e.g. "scf") as of now. It signs the
// Content-Type and Host headers, as Tencent's SDKs do.
func (s Signer) Sign(req *http.Request, service string, payload []byte, now time.Time) {
	ts := now.Unix()
	req.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
	if s.Token != "" {
		req.Header.Set("X-TC-Token", s.Token)
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	req.Header.Set("Authorization", s.Authorization(service, req.Method, host, req.Header.Get("Content-Type"), payload, ts))
}

// Authorization returns the Authorization header of a request to service
// with method, host, content type and body payload, signed at ts (Unix
// seconds, the X-TC-Timestamp header).
func (s Signer) Authorization(service, method, host, contentType string, payload []byte, ts int64) string {
	sum := sha256.Sum256(payload)
	canonical := method + "\n/\n\ncontent-type:" + contentType + "\nhost:" + host + "\n\ncontent-type;host\n" + hex.EncodeToString(sum[:])
	date := time.Unix(ts, 0).UTC().Format("2006-01-02")
	scope := date + "/" + service + "/tc3_request"
	creq := sha256.Sum256([]byte(canonical))
	toSign := Algorithm + "\n" + strconv.FormatInt(ts, 10) + "\n" + scope + "\n" + hex.EncodeToString(creq[:])
	key := hmacSHA256([]byte("TC3"+s.Key), date)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, "tc3_request")
	return Algorithm + " Credential=" + s.ID + "/" + scope + ", SignedHeaders=content-type;host, Signature=" + hex.EncodeToString(hmacSHA256(key, toSign))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
