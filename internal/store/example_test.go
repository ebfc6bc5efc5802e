package store_test

import (
	"context"
	"fmt"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// A lease: of all the instances that try at once, one wins; it expires by
// itself if its holder dies.
func ExampleOpen() {
	ctx := context.Background()
	s, err := store.Open("memory") // WXCLOUDENV_STORE's value
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	lease := store.Value{Data: []byte("instance-1"), Expires: time.Now().Add(30 * time.Second)}
	won, _ := s.CompareAndSwap(ctx, "wxcloudenv:lease:component_token", nil, lease)
	again, _ := s.CompareAndSwap(ctx, "wxcloudenv:lease:component_token", nil, lease)
	fmt.Println(won, again)
	// Output: true false
}

func ExampleRedacted() {
	url := "rediss://app:s3cret@cache.example:6380/0"
	fmt.Println(store.Redacted(url))
	fmt.Println(store.Secrets(url))
	_, err := store.Open("redis://app:s3cret@cache.example:port/0")
	fmt.Println(err)
	// Output:
	// rediss://app:xxxxx@cache.example:6380/0
	// [s3cret]
	// WXCLOUDENV_STORE=redis://(unparseable): malformed URL: invalid port ":port" after host
}
