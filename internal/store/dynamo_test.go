package store_test

import (
	"bytes"
	"encoding/json"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
	"github.com/wxcloudenv/wxcloudenv/internal/store/storetest"
)

// unprocessingProxy sits between the store and dynalite and, for the
// first `times` BatchGetItem answers, moves all but one returned item to
// UnprocessedKeys, as DynamoDB does when throttled. dynalite never does.
func unprocessingProxy(t *testing.T, target string, times int32) (endpoint string, batches *atomic.Int32) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	batches = &atomic.Int32{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if !strings.HasSuffix(resp.Request.Header.Get("X-Amz-Target"), ".BatchGetItem") {
			return nil
		}
		n := batches.Add(1)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var out struct {
			Responses       map[string][]map[string]json.RawMessage `json:"Responses"`
			UnprocessedKeys map[string]struct {
				Keys           []map[string]json.RawMessage `json:"Keys"`
				ConsistentRead bool                         `json:"ConsistentRead"`
			} `json:"UnprocessedKeys"`
		}
		if err := json.Unmarshal(body, &out); err == nil && n <= times {
			for table, items := range out.Responses {
				if len(items) < 2 {
					continue
				}
				u := out.UnprocessedKeys[table]
				u.ConsistentRead = true
				for _, it := range items[1:] {
					u.Keys = append(u.Keys, map[string]json.RawMessage{"pk": it["pk"]})
				}
				out.Responses[table] = items[:1]
				out.UnprocessedKeys[table] = u
			}
			if body, err = json.Marshal(out); err != nil {
				return err
			}
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		resp.Header.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL, batches
}

func TestDynamoGetManyRetriesUnprocessedKeys(t *testing.T) {
	t.Parallel()
	tableURL, env := storetest.StartDynamo(t)
	endpoint, batches := unprocessingProxy(t, env["AWS_ENDPOINT_URL_DYNAMODB"], 3)
	env["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
	s, err := store.Open(tableURL, store.WithEnv(storetest.Lookup(env)))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i := range 8 {
		k := "k" + strconv.Itoa(i)
		keys = append(keys, k)
		if err := s.Set(t.Context(), k, store.Value{Data: []byte(k)}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetMany(t.Context(), keys)
	if err != nil {
		t.Fatalf("GetMany() = %v", err)
	}
	for _, k := range keys {
		if string(got[k].Data) != k {
			t.Errorf("GetMany()[%q] = %q, want %q", k, got[k].Data, k)
		}
	}
	// 8 keys, one answered per throttled call: 3 throttled calls, then
	// one that answers the remaining 5.
	if n := batches.Load(); n != 4 {
		t.Errorf("BatchGetItem called %d times, want 4", n)
	}
}
