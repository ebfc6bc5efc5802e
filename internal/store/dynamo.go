package store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
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
// conditional writes.
type Dynamo struct {
	c       *dynamodb.Client
	table   string
	now     func() time.Time
	where   string
	secrets []string
	// pageSize limits the items of one Scan page (0: DynamoDB's 1 MB).
	pageSize int32
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
	cfg := aws.Config{
		Region:           region,
		Credentials:      aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, session)),
		HTTPClient:       &http.Client{Timeout: o.timeout},
		RetryMaxAttempts: 2,
	}
	c := dynamodb.NewFromConfig(cfg, func(opt *dynamodb.Options) {
		if endpoint != "" {
			opt.BaseEndpoint = aws.String(endpoint)
		}
	})
	where := "dynamodb table " + table
	return &Dynamo{c: c, table: table, now: o.now, where: where, secrets: []string{secret, session}}, nil
}

func (s *Dynamo) fail(op, key string, err error) error {
	return unavailable(s.where, op, key, err, s.secrets)
}

func keyAttr(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrKey: &types.AttributeValueMemberS{Value: key}}
}

func nanosAttr(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// item is the table row for key and v.
func item(key string, v Value) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		attrKey:   &types.AttributeValueMemberS{Value: key},
		attrValue: &types.AttributeValueMemberB{Value: append([]byte{codecVersion}, v.Data...)},
	}
	if n := expiryNanos(v.Expires); n != 0 {
		it[attrExpiresNs] = nanosAttr(n)
		// The TTL attribute rounds up, so DynamoDB never deletes early.
		it[attrExpiresAt] = nanosAttr((n + int64(time.Second) - 1) / int64(time.Second))
	}
	return it
}

// fromItem decodes a table row.
func fromItem(it map[string]types.AttributeValue) (Value, error) {
	b, ok := it[attrValue].(*types.AttributeValueMemberB)
	if !ok || len(b.Value) == 0 || b.Value[0] != codecVersion {
		return Value{}, errCorrupt
	}
	v := Value{Data: append([]byte{}, b.Value[1:]...)}
	if n, ok := it[attrExpiresNs].(*types.AttributeValueMemberN); ok {
		ns, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil || ns < 0 {
			return Value{}, errCorrupt
		}
		v.Expires = expiryTime(ns)
	}
	return v, nil
}

// Get implements Store with a consistent GetItem.
func (s *Dynamo) Get(ctx context.Context, key string) (Value, error) {
	out, err := s.c.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.table,
		Key:            keyAttr(key),
		ConsistentRead: aws.Bool(true),
	})
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
	out := make(map[string]Value, len(keys))
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
		req := make([]map[string]types.AttributeValue, len(chunk))
		for i, k := range chunk {
			req[i] = keyAttr(k)
		}
		pending := map[string]types.KeysAndAttributes{s.table: {Keys: req, ConsistentRead: aws.Bool(true)}}
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
			res, err := s.c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, s.fail("get many", "", err)
			}
			for _, it := range res.Responses[s.table] {
				k, _ := it[attrKey].(*types.AttributeValueMemberS)
				if k == nil {
					continue
				}
				v, err := fromItem(it)
				if err != nil {
					return nil, s.fail("get many", k.Value, err)
				}
				if v.Live(now) {
					out[k.Value] = v
				}
			}
			pending = res.UnprocessedKeys
		}
	}
	return out, nil
}

// Set implements Store with PutItem.
func (s *Dynamo) Set(ctx context.Context, key string, v Value) error {
	_, err := s.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item(key, v)})
	if err != nil {
		return s.fail("set", key, err)
	}
	return nil
}

// liveCond is true when the row's value has no expiry or expires after
// :now.
const liveCond = "(attribute_not_exists(" + attrExpiresNs + ") OR " + attrExpiresNs + " > :now)"

// CompareAndSwap implements Store with a conditional PutItem.
func (s *Dynamo) CompareAndSwap(ctx context.Context, key string, old []byte, v Value) (bool, error) {
	in := &dynamodb.PutItemInput{TableName: &s.table, Item: item(key, v)}
	now := nanosAttr(expiryNanos(s.now()))
	if old == nil {
		in.ConditionExpression = aws.String("attribute_not_exists(" + attrKey + ") OR " + attrExpiresNs + " <= :now")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":now": now}
	} else {
		in.ConditionExpression = aws.String(attrValue + " = :old AND " + liveCond)
		in.ExpressionAttributeValues = map[string]types.AttributeValue{
			":now": now,
			":old": &types.AttributeValueMemberB{Value: append([]byte{codecVersion}, old...)},
		}
	}
	_, err := s.c.PutItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, s.fail("compare and swap", key, err)
	}
	return true, nil
}

// CompareAndDelete implements Store with a conditional DeleteItem.
func (s *Dynamo) CompareAndDelete(ctx context.Context, key string, old []byte) (bool, error) {
	_, err := s.c.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:           &s.table,
		Key:                 keyAttr(key),
		ConditionExpression: aws.String(attrValue + " = :old AND " + liveCond),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": nanosAttr(expiryNanos(s.now())),
			":old": &types.AttributeValueMemberB{Value: append([]byte{codecVersion}, old...)},
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, s.fail("compare and delete", key, err)
	}
	return true, nil
}

// Delete implements Store with DeleteItem.
func (s *Dynamo) Delete(ctx context.Context, key string) error {
	_, err := s.c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: keyAttr(key)})
	if err != nil {
		return s.fail("delete", key, err)
	}
	return nil
}

// Keys implements Store with a consistent, paginated Scan filtered by
// begins_with and liveness. A scan reads the whole table: keep the table
// to this function's keys.
func (s *Dynamo) Keys(ctx context.Context, prefix string) ([]string, error) {
	in := &dynamodb.ScanInput{
		TableName:                &s.table,
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#pk"),
		ExpressionAttributeNames: map[string]string{"#pk": attrKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": nanosAttr(expiryNanos(s.now())),
		},
		FilterExpression: aws.String(liveCond),
	}
	if s.pageSize > 0 {
		in.Limit = aws.Int32(s.pageSize)
	}
	if prefix != "" {
		in.FilterExpression = aws.String("begins_with(#pk, :p) AND " + liveCond)
		in.ExpressionAttributeValues[":p"] = &types.AttributeValueMemberS{Value: prefix}
	}
	var out []string
	p := dynamodb.NewScanPaginator(s.c, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.fail("keys", prefix, err)
		}
		for _, it := range page.Items {
			if k, ok := it[attrKey].(*types.AttributeValueMemberS); ok {
				out = append(out, k.Value)
			}
		}
	}
	return out, nil
}

// Close implements Store: the HTTP client needs no closing.
func (s *Dynamo) Close() error { return nil }

// String names the table, for logs.
func (s *Dynamo) String() string { return fmt.Sprintf("dynamodb://%s", s.table) }
