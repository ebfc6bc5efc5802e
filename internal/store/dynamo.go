package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/awssig"
)

// The DynamoDB table's attributes. pk is the string partition key;
// expires_at (epoch seconds) is the table's TTL attribute, so DynamoDB
// deletes expired items in its own time; expires_ns is the exact expiry
// that decides; v is a version byte followed by the data (never empty).
const (
	attrKey       = "pk"
	attrValue     = "v"
	attrExpiresNs = "expires_ns"
	attrExpiresAt = "expires_at"
)

// batchGetMax is BatchGetItem's limit of keys per call.
const batchGetMax = 100

// Dynamo is a Store on one DynamoDB table (dynamodb://TABLE). Reads are
// strongly consistent; compare-and-swap and compare-and-delete are
// conditional writes. It speaks DynamoDB's JSON protocol over net/http,
// signed with Signature Version 4 (package awssig): the AWS SDK's client linked
// 1.2 MB into every binary for the five calls below (BENCHMARKS.md).
type Dynamo struct {
	hc       *http.Client
	endpoint string
	signer   awssig.Signer
	table    string
	now      func() time.Time
	where    string
	secrets  []string
	// pageSize limits the items of one Scan page (0: DynamoDB's 1 MB).
	pageSize int32
	// noBatchWrite is set once the role was refused BatchWriteItem.
	noBatchWrite atomic.Bool
}

var _ Store = (*Dynamo)(nil)

func openDynamo(raw string, u *url.URL, o options) (Store, error) {
	table := u.Host
	if u.Opaque != "" {
		table = u.Opaque
	}
	if table == "" || strings.Trim(u.Path, "/") != "" || u.User != nil {
		return nil, badURL(raw, "want dynamodb://TABLE with a table name", nil)
	}
	env := func(k string) string {
		v, _ := o.lookup(k)
		return strings.TrimSpace(v)
	}
	region := env("AWS_REGION")
	if region == "" {
		return nil, badURL(raw, "AWS_REGION is not set", nil)
	}
	id, secret := env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return nil, badURL(raw, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set", nil)
	}
	session := env("AWS_SESSION_TOKEN")
	endpoint := env("AWS_ENDPOINT_URL_DYNAMODB")
	if endpoint == "" {
		endpoint = env("AWS_ENDPOINT_URL")
	}
	if endpoint == "" {
		endpoint = "https://dynamodb." + region + ".amazonaws.com"
		if strings.HasPrefix(region, "cn-") {
			endpoint += ".cn"
		}
	}
	eu, err := url.Parse(endpoint)
	if err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" || eu.RawQuery != "" {
		return nil, badURL(raw, "the DynamoDB endpoint (AWS_ENDPOINT_URL_DYNAMODB or AWS_ENDPOINT_URL) must be an http:// or https:// URL without a query", nil)
	}
	if eu.Path == "" {
		eu.Path = "/"
	}
	where := "dynamodb table " + table
	return &Dynamo{
		hc:       &http.Client{Timeout: o.timeout},
		endpoint: eu.String(),
		signer:   awssig.Signer{ID: id, Secret: secret, Session: session, Region: region, Service: "dynamodb"},
		table:    table, now: o.now, where: where, secrets: []string{secret, session},
	}, nil
}

func (s *Dynamo) fail(op, key string, err error) error {
	return unavailable(s.where, op, key, err, s.secrets)
}

// attr is a DynamoDB attribute value of one of the types this store
// writes: S (string), N (number, as a string) or B (binary, base64 in
// JSON).
type attr struct {
	S *string `json:"S,omitempty"`
	N *string `json:"N,omitempty"`
	B []byte  `json:"B,omitempty"`
}

type row = map[string]attr

func strAttr(v string) attr { return attr{S: &v} }

func keyAttr(key string) row { return row{attrKey: strAttr(key)} }

func nanosAttr(n int64) attr {
	v := strconv.FormatInt(n, 10)
	return attr{N: &v}
}

func binAttr(data []byte) attr { return attr{B: append([]byte{codecVersion}, data...)} }

// item is the table row for key and v.
func item(key string, v Value) row {
	it := row{attrKey: strAttr(key), attrValue: binAttr(v.Data)}
	if n := expiryNanos(v.Expires); n != 0 {
		it[attrExpiresNs] = nanosAttr(n)
		// The TTL attribute rounds up, so DynamoDB never deletes early.
		it[attrExpiresAt] = nanosAttr((n + int64(time.Second) - 1) / int64(time.Second))
	}
	return it
}

// fromItem decodes a table row.
func fromItem(it row) (Value, error) {
	b := it[attrValue].B
	if len(b) == 0 || b[0] != codecVersion {
		return Value{}, errCorrupt
	}
	v := Value{Data: b[1:]}
	if n := it[attrExpiresNs].N; n != nil {
		ns, err := strconv.ParseInt(*n, 10, 64)
		if err != nil || ns < 0 {
			return Value{}, errCorrupt
		}
		v.Expires = expiryTime(ns)
	}
	return v, nil
}

// dynamoError is an error answer: its type (the part of __type after
// '#') and message.
type dynamoError struct {
	status int
	typ    string
	msg    string
}

func (e *dynamoError) Error() string {
	return fmt.Sprintf("dynamodb: %s (HTTP %d): %s", e.typ, e.status, e.msg)
}

// retryable is true for throttling and the server's own failures: the
// request did not take effect, so it is sent once more (as the AWS SDK
// did with RetryMaxAttempts 2).
func (e *dynamoError) retryable() bool {
	switch e.typ {
	case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
		"LimitExceededException", "InternalServerError", "ServiceUnavailable":
		return true
	}
	return e.status == http.StatusServiceUnavailable
}

// conditionFailed is true when err is a conditional write's refusal.
func conditionFailed(err error) bool {
	var de *dynamoError
	return errors.As(err, &de) && de.typ == "ConditionalCheckFailedException"
}

// maxDynamoAnswer bounds one answer (DynamoDB's are at most 16 MB, a
// BatchGetItem of 100 items of at most 400 KB each).
const maxDynamoAnswer = 64 << 20

// call sends one DynamoDB operation with in as its JSON body and decodes
// the answer into out.
func (s *Dynamo) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err := s.send(ctx, op, body, out)
		var de *dynamoError
		if attempt == 0 && errors.As(err, &de) && de.retryable() {
			t := time.NewTimer(50 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return err
			case <-t.C:
			}
			continue
		}
		return err
	}
}

func (s *Dynamo) send(ctx context.Context, op string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
	s.signer.Sign(req, body, time.Now())
	resp, err := s.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	ans, err := io.ReadAll(io.LimitReader(resp.Body, maxDynamoAnswer+1))
	if err != nil {
		return fmt.Errorf("dynamodb %s: reading the answer: %w", op, err)
	}
	if len(ans) > maxDynamoAnswer {
		return fmt.Errorf("dynamodb %s: the answer is over %d bytes", op, maxDynamoAnswer)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type     string `json:"__type"`
			Message  string `json:"message"`
			Message2 string `json:"Message"`
		}
		_ = json.Unmarshal(ans, &e)
		de := &dynamoError{status: resp.StatusCode, typ: e.Type, msg: e.Message}
		if i := strings.LastIndexByte(de.typ, '#'); i >= 0 {
			de.typ = de.typ[i+1:]
		}
		if de.typ == "" {
			de.typ = http.StatusText(resp.StatusCode)
		}
		if de.msg == "" {
			de.msg = e.Message2
		}
		return de
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(ans, out); err != nil {
		return fmt.Errorf("dynamodb %s: bad answer: %w", op, err)
	}
	return nil
}

// keysAndAttributes is BatchGetItem's request for one table.
type keysAndAttributes struct {
	Keys           []row `json:"Keys"`
	ConsistentRead bool  `json:"ConsistentRead,omitempty"`
}

// Get implements Store with a consistent GetItem.
func (s *Dynamo) Get(ctx context.Context, key string) (Value, error) {
	var out struct {
		Item row `json:"Item"`
	}
	err := s.call(ctx, "GetItem", struct {
		TableName      string `json:"TableName"`
		Key            row    `json:"Key"`
		ConsistentRead bool   `json:"ConsistentRead"`
	}{s.table, keyAttr(key), true}, &out)
	if err != nil {
		return Value{}, s.fail("get", key, err)
	}
	if out.Item == nil {
		return Value{}, ErrNotFound
	}
	v, err := fromItem(out.Item)
	if err != nil {
		return Value{}, s.fail("get", key, err)
	}
	if !v.Live(s.now()) {
		return Value{}, ErrNotFound
	}
	return v, nil
}

// GetMany implements Store with consistent BatchGetItem calls of at most
// 100 keys, retrying unprocessed keys with a short backoff.
func (s *Dynamo) GetMany(ctx context.Context, keys []string) (map[string]Value, error) {
	out := map[string]Value{} // grown as keys are found: a fleet asks for many it may not hold
	seen := make(map[string]bool, len(keys))
	uniq := make([]string, 0, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			uniq = append(uniq, k)
		}
	}
	now := s.now()
	for start := 0; start < len(uniq); start += batchGetMax {
		chunk := uniq[start:min(start+batchGetMax, len(uniq))]
		req := make([]row, len(chunk))
		for i, k := range chunk {
			req[i] = keyAttr(k)
		}
		pending := map[string]keysAndAttributes{s.table: {Keys: req, ConsistentRead: true}}
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt > 0 {
				if attempt > 8 {
					return nil, s.fail("get many", "", errors.New("keys still unprocessed after 8 retries"))
				}
				t := time.NewTimer(time.Duration(10<<min(attempt, 6)) * time.Millisecond)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil, s.fail("get many", "", ctx.Err())
				case <-t.C:
				}
			}
			var res struct {
				Responses       map[string][]row             `json:"Responses"`
				UnprocessedKeys map[string]keysAndAttributes `json:"UnprocessedKeys"`
			}
			err := s.call(ctx, "BatchGetItem", struct {
				RequestItems map[string]keysAndAttributes `json:"RequestItems"`
			}{pending}, &res)
			if err != nil {
				return nil, s.fail("get many", "", err)
			}
			for _, it := range res.Responses[s.table] {
				k := it[attrKey].S
				if k == nil {
					continue
				}
				v, err := fromItem(it)
				if err != nil {
					return nil, s.fail("get many", *k, err)
				}
				if v.Live(now) {
					out[*k] = v
				}
			}
			pending = res.UnprocessedKeys
			for t, ka := range pending {
				if len(ka.Keys) == 0 {
					delete(pending, t)
				}
			}
		}
	}
	return out, nil
}

// putItem is PutItem's and DeleteItem's request.
type putItem struct {
	TableName                 string          `json:"TableName"`
	Item                      row             `json:"Item,omitempty"`
	Key                       row             `json:"Key,omitempty"`
	ConditionExpression       string          `json:"ConditionExpression,omitempty"`
	ExpressionAttributeValues map[string]attr `json:"ExpressionAttributeValues,omitempty"`
}

// Set implements Store with PutItem.
func (s *Dynamo) Set(ctx context.Context, key string, v Value) error {
	if err := s.call(ctx, "PutItem", putItem{TableName: s.table, Item: item(key, v)}, nil); err != nil {
		return s.fail("set", key, err)
	}
	return nil
}

// liveCond is true when the row's value has no expiry or expires after
// :now.
const liveCond = "(attribute_not_exists(" + attrExpiresNs + ") OR " + attrExpiresNs + " > :now)"

// CompareAndSwap implements Store with a conditional PutItem.
func (s *Dynamo) CompareAndSwap(ctx context.Context, key string, old []byte, v Value) (bool, error) {
	in := putItem{TableName: s.table, Item: item(key, v)}
	now := nanosAttr(expiryNanos(s.now()))
	if old == nil {
		in.ConditionExpression = "attribute_not_exists(" + attrKey + ") OR " + attrExpiresNs + " <= :now"
		in.ExpressionAttributeValues = map[string]attr{":now": now}
	} else {
		in.ConditionExpression = attrValue + " = :old AND " + liveCond
		in.ExpressionAttributeValues = map[string]attr{":now": now, ":old": binAttr(old)}
	}
	err := s.call(ctx, "PutItem", in, nil)
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, s.fail("compare and swap", key, err)
	}
	return true, nil
}

// CompareAndDelete implements Store with a conditional DeleteItem.
func (s *Dynamo) CompareAndDelete(ctx context.Context, key string, old []byte) (bool, error) {
	err := s.call(ctx, "DeleteItem", putItem{
		TableName:           s.table,
		Key:                 keyAttr(key),
		ConditionExpression: attrValue + " = :old AND " + liveCond,
		ExpressionAttributeValues: map[string]attr{
			":now": nanosAttr(expiryNanos(s.now())),
			":old": binAttr(old),
		},
	}, nil)
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, s.fail("compare and delete", key, err)
	}
	return true, nil
}

// Delete implements Store with DeleteItem.
func (s *Dynamo) Delete(ctx context.Context, key string) error {
	if err := s.call(ctx, "DeleteItem", putItem{TableName: s.table, Key: keyAttr(key)}, nil); err != nil {
		return s.fail("delete", key, err)
	}
	return nil
}

// Keys implements Store with a consistent, paginated Scan filtered by
// begins_with and liveness. A scan reads the whole table: keep the table
// to this function's keys.
func (s *Dynamo) Keys(ctx context.Context, prefix string) ([]string, error) {
	in := struct {
		TableName                 string            `json:"TableName"`
		ConsistentRead            bool              `json:"ConsistentRead"`
		ProjectionExpression      string            `json:"ProjectionExpression"`
		ExpressionAttributeNames  map[string]string `json:"ExpressionAttributeNames"`
		ExpressionAttributeValues map[string]attr   `json:"ExpressionAttributeValues"`
		FilterExpression          string            `json:"FilterExpression"`
		Limit                     int32             `json:"Limit,omitempty"`
		ExclusiveStartKey         json.RawMessage   `json:"ExclusiveStartKey,omitempty"`
	}{
		TableName:                 s.table,
		ConsistentRead:            true,
		ProjectionExpression:      "#pk",
		ExpressionAttributeNames:  map[string]string{"#pk": attrKey},
		ExpressionAttributeValues: map[string]attr{":now": nanosAttr(expiryNanos(s.now()))},
		FilterExpression:          liveCond,
		Limit:                     s.pageSize,
	}
	if prefix != "" {
		in.FilterExpression = "begins_with(#pk, :p) AND " + liveCond
		in.ExpressionAttributeValues[":p"] = strAttr(prefix)
	}
	var out []string
	for {
		var page struct {
			Items            []row           `json:"Items"`
			LastEvaluatedKey json.RawMessage `json:"LastEvaluatedKey"`
		}
		if err := s.call(ctx, "Scan", in, &page); err != nil {
			return nil, s.fail("keys", prefix, err)
		}
		for _, it := range page.Items {
			if k := it[attrKey].S; k != nil {
				out = append(out, *k)
			}
		}
		if len(page.LastEvaluatedKey) == 0 || string(page.LastEvaluatedKey) == "null" || string(page.LastEvaluatedKey) == "{}" {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// Close implements Store: the HTTP client needs no closing.
func (s *Dynamo) Close() error { return nil }

// String names the table, for logs.
func (s *Dynamo) String() string { return fmt.Sprintf("dynamodb://%s", s.table) }
