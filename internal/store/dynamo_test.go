package store_test

import (
	"bytes"
	"encoding/json"
	"errors"
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

// TestDynamoRetriesThrottlingOnce puts a server in front of dynalite that
// answers the first `throttled` calls as DynamoDB does when throttled: one
// such answer is retried, two are an ErrUnavailable that names the error.
func TestDynamoRetriesThrottlingOnce(t *testing.T) {
	t.Parallel()
	tableURL, env := storetest.StartDynamo(t)
	target, err := url.Parse(env["AWS_ENDPOINT_URL_DYNAMODB"])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		throttled int32
		wantErr   bool
	}{{0, false}, {1, false}, {2, true}} {
		t.Run(strconv.Itoa(int(tc.throttled)), func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			proxy := httputil.NewSingleHostReverseProxy(target)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) <= tc.throttled {
					w.Header().Set("Content-Type", "application/x-amz-json-1.0")
					w.WriteHeader(http.StatusBadRequest)
					io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}`)
					return
				}
				proxy.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			e := map[string]string{}
			for k, v := range env {
				e[k] = v
			}
			e["AWS_ENDPOINT_URL_DYNAMODB"] = srv.URL
			s, err := store.Open(tableURL, store.WithEnv(storetest.Lookup(e)))
			if err != nil {
				t.Fatal(err)
			}
			err = s.Set(t.Context(), "throttled-"+t.Name(), store.Value{Data: []byte("v")})
			if tc.wantErr {
				if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "ProvisionedThroughputExceededException") {
					t.Errorf("Set() = %v, want ErrUnavailable naming the throttling", err)
				}
			} else if err != nil {
				t.Errorf("Set() = %v", err)
			}
			if want := min(tc.throttled+1, 2); calls.Load() != want {
				t.Errorf("calls = %d, want %d", calls.Load(), want)
			}
		})
	}
}

// TestDynamoSetManyWithoutBatchWrite: a role deployed before SetMany
// existed is refused BatchWriteItem; the items are then written one
// PutItem each, and later batches go straight to PutItem.
func TestDynamoSetManyWithoutBatchWrite(t *testing.T) {
	t.Parallel()
	tableURL, env := storetest.StartDynamo(t)
	target, err := url.Parse(env["AWS_ENDPOINT_URL_DYNAMODB"])
	if err != nil {
		t.Fatal(err)
	}
	var batchWrites, puts atomic.Int32
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch op := r.Header.Get("X-Amz-Target"); {
		case strings.HasSuffix(op, ".BatchWriteItem"):
			batchWrites.Add(1)
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"__type":"com.amazon.coral.service#AccessDeniedException","message":"User: arn:aws:sts::1:assumed-role/fn is not authorized to perform: dynamodb:BatchWriteItem"}`)
			return
		case strings.HasSuffix(op, ".PutItem"):
			puts.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	env["AWS_ENDPOINT_URL_DYNAMODB"] = srv.URL
	s, err := store.Open(tableURL, store.WithEnv(storetest.Lookup(env)))
	if err != nil {
		t.Fatal(err)
	}
	items := []store.Item{{Key: "a", Value: store.Value{Data: []byte("1")}}, {Key: "b", Value: store.Value{Data: []byte("2")}}}
	for round := range 2 {
		if err := store.SetMany(t.Context(), s, items); err != nil {
			t.Fatalf("round %d: SetMany() = %v", round, err)
		}
	}
	if batchWrites.Load() != 1 || puts.Load() != 4 {
		t.Fatalf("%d BatchWriteItem and %d PutItem calls, want 1 and 4", batchWrites.Load(), puts.Load())
	}
	got, err := s.GetMany(t.Context(), []string{"a", "b"})
	if err != nil || string(got["a"].Data) != "1" || string(got["b"].Data) != "2" {
		t.Fatalf("GetMany() = %v, %v", got, err)
	}
}
