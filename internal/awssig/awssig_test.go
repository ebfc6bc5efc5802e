package awssig

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

// TestSignMatchesTheSDK signs the same requests with Signer and with the
// AWS SDK's v4 signer (linked into this test only) and wants the same
// Authorization header.
func TestSignMatchesTheSDK(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 6, 23, 59, 58, 0, time.FixedZone("CST", 8*3600))
	for _, tc := range []struct {
		name, service, region, endpoint, session, target string
		queryMode                                        bool
		body                                             string
	}{
		{"aws", "dynamodb", "us-east-1", "https://dynamodb.us-east-1.amazonaws.com/", "", "DynamoDB_20120810.GetItem", false, `{"TableName":"t","Key":{"pk":{"S":"a b"}}}`},
		{"session", "dynamodb", "cn-north-1", "https://dynamodb.cn-north-1.amazonaws.com.cn/", "FwoGZXIvYXdzE//session+token=", "DynamoDB_20120810.PutItem", false, `{"TableName":"t"}`},
		{"local port", "dynamodb", "us-east-1", "http://127.0.0.1:8000", "", "DynamoDB_20120810.Scan", false, `{}`},
		{"empty body", "dynamodb", "us-east-1", "http://localhost:4567/", "s", "DynamoDB_20120810.DeleteItem", false, ``},
		{"sqs", "sqs", "eu-west-1", "https://sqs.eu-west-1.amazonaws.com/", "", "AmazonSQS.SendMessageBatch", true,
			`{"QueueUrl":"https://sqs.eu-west-1.amazonaws.com/123456789012/fleet","Entries":[{"Id":"0","MessageBody":"{\"run\":\"20261206T120000Z\"}"}]}`},
		{"sqs session", "sqs", "ap-east-1", "https://sqs.ap-east-1.amazonaws.com", "IQoJb3JpZ2luX2VjE/session==", "AmazonSQS.SendMessageBatch", true, `{"Entries":[]}`},
		{"sqs local", "sqs", "us-east-1", "http://127.0.0.1:4100", "", "AmazonSQS.SendMessageBatch", true, `{"QueueUrl":"http://127.0.0.1:4100/100010001000/fleet"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := Signer{ID: "AKIDEXAMPLE", Secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", Session: tc.session, Region: tc.region, Service: tc.service}
			newReq := func() *http.Request {
				req, err := http.NewRequest(http.MethodPost, tc.endpoint, bytes.NewReader([]byte(tc.body)))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/x-amz-json-1.0")
				req.Header.Set("X-Amz-Target", tc.target)
				if tc.queryMode {
					req.Header.Set("X-Amzn-Query-Mode", "true")
				}
				return req
			}
			ours := newReq()
			s.Sign(ours, []byte(tc.body), at)

			theirs := newReq()
			sum := sha256.Sum256([]byte(tc.body))
			creds := aws.Credentials{AccessKeyID: s.ID, SecretAccessKey: s.Secret, SessionToken: s.Session}
			if err := v4.NewSigner().SignHTTP(t.Context(), creds, theirs, hex.EncodeToString(sum[:]), tc.service, tc.region, at); err != nil {
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
