package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestSigV4MatchesTheSDK signs the same requests with sigv4 and with the
// AWS SDK's v4 signer (linked into this test only) and wants the same
// Authorization header.
func TestSigV4MatchesTheSDK(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 6, 23, 59, 58, 0, time.FixedZone("CST", 8*3600))
	for _, tc := range []struct {
		name, endpoint, session, target string
		body                            string
	}{
		{"aws", "https://dynamodb.us-east-1.amazonaws.com/", "", "DynamoDB_20120810.GetItem", `{"TableName":"t","Key":{"pk":{"S":"a b"}}}`},
		{"session", "https://dynamodb.cn-north-1.amazonaws.com.cn/", "FwoGZXIvYXdzE//session+token=", "DynamoDB_20120810.PutItem", `{"TableName":"t"}`},
		{"local port", "http://127.0.0.1:8000", "", "DynamoDB_20120810.Scan", `{}`},
		{"empty body", "http://localhost:4567/", "s", "DynamoDB_20120810.DeleteItem", ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := sigv4{id: "AKIDEXAMPLE", secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", session: tc.session, region: "us-east-1", service: "dynamodb"}
			newReq := func() *http.Request {
				req, err := http.NewRequest(http.MethodPost, tc.endpoint, bytes.NewReader([]byte(tc.body)))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/x-amz-json-1.0")
				req.Header.Set("X-Amz-Target", tc.target)
				return req
			}
			ours := newReq()
			s.sign(ours, []byte(tc.body), at)

			theirs := newReq()
			sum := sha256.Sum256([]byte(tc.body))
			creds := aws.Credentials{AccessKeyID: s.id, SecretAccessKey: s.secret, SessionToken: s.session}
			if err := v4.NewSigner().SignHTTP(t.Context(), creds, theirs, hex.EncodeToString(sum[:]), "dynamodb", "us-east-1", at); err != nil {
				t.Fatal(err)
			}
			for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
				if got, want := ours.Header.Get(h), theirs.Header.Get(h); got != want {
					t.Errorf("%s:\n got %s\nwant %s", h, got, want)
				}
			}
		})
	}
}
