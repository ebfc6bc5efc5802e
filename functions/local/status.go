package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/internal/trigger/triggertest"
)

// serveStatus runs event runs times with one handler (so that a memory
// store keeps what they record), then serves every HTTP route of that
// handler on addr, as an HTTP API v2 trigger would deliver them, until ctx
// ends; with every > 0 the event runs again at that interval. Without
// WXCLOUDENV_API_KEY it sets a random one and prints it: the status page
// needs a key.
func serveStatus(ctx context.Context, addr string, event []byte, runs int, every, timeout time.Duration, env *environment, stderr io.Writer) error {
	password := "the value of WXCLOUDENV_API_KEY"
	if key, _ := env.lookup("WXCLOUDENV_API_KEY"); key == "" {
		// A throwaway key for this session only; a configured key is
		// never printed.
		var b [12]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand)
		password = hex.EncodeToString(b[:])
		env.set("WXCLOUDENV_API_KEY", password)
		password += " (a key made for this session)"
	}
	h := invoke.NewWithLog(invoke.PlatformLocal, io.Discard)
	h.Lookup = env.lookup
	runOne := func() {
		ictx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if _, err := h.Invoke(ictx, event); err != nil {
			fmt.Fprintln(stderr, "local: run:", err)
		}
	}
	for range runs {
		runOne()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("-status: %w", err)
	}
	srv := &http.Server{Handler: triggertest.Handler(triggertest.HTTPv2, h.Invoke), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "wxcloudenv: the status page is at http://%s/status (any user name; password %s), JSON at /status.json; Ctrl-C stops\n", ln.Addr(), password)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if every > 0 {
		go func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					runOne()
				}
			}
		}()
	}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("-status: %w", err)
	}
	return nil
}
