// Package awssig signs HTTP requests with AWS Signature Version 4
// (docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html),
// for the DynamoDB and SQS clients that speak AWS's JSON protocols over
// net/http instead of linking the AWS SDK. Its signatures are tested
// byte for byte against the SDK's own signer.
package awssig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Signer signs requests for one service and region with static
// credentials. It signs the Host header, every header the request carries
// (the clients set only Content-Type, X-Amz-Target and what Sign adds),
// and Content-Length as the AWS SDK's signer does. The request must have
// no query string.
type Signer struct {
	// ID and Secret are the access key; Session is the session token of
	// temporary credentials, or empty.
	ID, Secret, Session string
	// Region and Service name the scope, e.g. "us-east-1" and "sqs".
	Region, Service string
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// Sign sets X-Amz-Date, X-Amz-Security-Token (with a session token) and
// Authorization on req, whose body is payload, as of now.
func (s Signer) Sign(req *http.Request, payload []byte, now time.Time) {
	now = now.UTC()
	amzDate := now.Format("20060102T150405Z")
	day := amzDate[:8]
	req.Header.Set("X-Amz-Date", amzDate)
	if s.Session != "" {
		req.Header.Set("X-Amz-Security-Token", s.Session)
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	// The canonical headers: lower-case names, sorted, trimmed values.
	names := []string{"host"}
	values := map[string]string{"host": host}
	if req.ContentLength > 0 {
		names = append(names, "content-length")
		values["content-length"] = strconv.FormatInt(req.ContentLength, 10)
	}
	for k, v := range req.Header {
		lk := strings.ToLower(k)
		if lk == "authorization" || lk == "user-agent" || lk == "content-length" {
			continue
		}
		names = append(names, lk)
		values[lk] = strings.Join(strings.Fields(strings.Join(v, ",")), " ")
	}
	sort.Strings(names)
	var canon strings.Builder
	path := req.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	sum := sha256.Sum256(payload)
	canon.WriteString(req.Method + "\n" + path + "\n" + req.URL.RawQuery + "\n")
	for _, n := range names {
		canon.WriteString(n + ":" + values[n] + "\n")
	}
	signed := strings.Join(names, ";")
	canon.WriteString("\n" + signed + "\n" + hex.EncodeToString(sum[:]))
	scope := day + "/" + s.Region + "/" + s.Service + "/aws4_request"
	creq := sha256.Sum256([]byte(canon.String()))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(creq[:])
	key := hmacSHA256([]byte("AWS4"+s.Secret), day)
	key = hmacSHA256(key, s.Region)
	key = hmacSHA256(key, s.Service)
	key = hmacSHA256(key, "aws4_request")
	sig := hex.EncodeToString(hmacSHA256(key, toSign))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+s.ID+"/"+scope+", SignedHeaders="+signed+", Signature="+sig)
}
