// Package baseline is what the benchmarks measure wxcloudenv against: the
// least a function can do for the same job. It POSTs both WeChat endpoints
// concurrently with net/http and hands back the raw answers, with no
// validation, retries, token handling, alerts or logging.
package baseline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Fetch POSTs {} to /tcb/getenvinfo with accessToken and to
// /componenttcb/describecloudbaserunenvs with componentToken, both at
// base, and returns {"getenvinfo":…,"describecloudbaserunenvs":…} with
// the answers copied in as received.
func Fetch(ctx context.Context, hc *http.Client, base, accessToken, componentToken string) ([]byte, error) {
	type answer struct {
		body []byte
		err  error
	}
	envInfo := make(chan answer, 1)
	go func() {
		b, err := post(ctx, hc, base+"/tcb/getenvinfo?access_token="+accessToken)
		envInfo <- answer{b, err}
	}()
	runEnvs, err := post(ctx, hc, base+"/componenttcb/describecloudbaserunenvs?access_token="+componentToken)
	a := <-envInfo
	if a.err != nil {
		return nil, a.err
	}
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(a.body)+len(runEnvs)+64)
	out = append(out, `{"getenvinfo":`...)
	out = append(out, a.body...)
	out = append(out, `,"describecloudbaserunenvs":`...)
	out = append(out, runEnvs...)
	return append(out, '}'), nil
}

func post(ctx context.Context, hc *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader("{}"))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength) + 1)
	}
	if _, err := buf.ReadFrom(resp.Body); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf.Bytes(), nil
}
