package baseline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// Component is what a third-party platform mints its component token with.
type Component struct {
	AppID, AppSecret, VerifyTicket string
}

// FleetPage is how many authorizers one api_get_authorizer_list page asks
// for: the most WeChat gives.
const FleetPage = 500

// NewFleetClient returns a plain net/http client for a fleet of the given
// concurrency: http.DefaultTransport's settings, with room for one idle
// connection per worker so that no connection is closed and re-dialled
// between the mint and getenvinfo of consecutive authorizers.
func NewFleetClient(concurrency int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = max(concurrency, 2)
	t.MaxIdleConns = max(t.MaxIdleConns, concurrency)
	return &http.Client{Transport: t}
}

// FetchFleet does a fleet run's WeChat work with plain net/http and
// nothing else: it mints the component token, pages
// /cgi-bin/component/api_get_authorizer_list 500 at a time, then, at most
// concurrency authorizers at once, mints each authorizer's token at
// /cgi-bin/component/api_authorizer_token from the refresh token the list
// gave and POSTs {} to /tcb/getenvinfo with it. It returns
// {"<appid>":<getenvinfo answer>,…} in the list's order, each answer
// copied in as received. There are no retries, no validation of the
// answers beyond reading the tokens, no token cache, no alerts and no log.
func FetchFleet(ctx context.Context, hc *http.Client, base string, c Component, concurrency int) ([]byte, error) {
	var tok struct {
		Token   string `json:"component_access_token"`
		ErrCode int    `json:"errcode"`
	}
	if err := postJSON(ctx, hc, base+"/cgi-bin/component/api_component_token", map[string]string{
		"component_appid": c.AppID, "component_appsecret": c.AppSecret, "component_verify_ticket": c.VerifyTicket,
	}, &tok); err != nil {
		return nil, err
	}
	if tok.Token == "" {
		return nil, fmt.Errorf("component token: errcode %d", tok.ErrCode)
	}
	componentToken := tok.Token

	type entry struct {
		AppID   string `json:"authorizer_appid"`
		Refresh string `json:"refresh_token"`
	}
	var fleet []entry
	for offset := 0; ; {
		var page struct {
			Total   int     `json:"total_count"`
			List    []entry `json:"list"`
			ErrCode int     `json:"errcode"`
		}
		if err := postJSON(ctx, hc, base+"/cgi-bin/component/api_get_authorizer_list?access_token="+componentToken, map[string]any{
			"component_appid": c.AppID, "offset": offset, "count": FleetPage,
		}, &page); err != nil {
			return nil, err
		}
		if page.ErrCode != 0 {
			return nil, fmt.Errorf("authorizer list: errcode %d", page.ErrCode)
		}
		fleet = append(fleet, page.List...)
		offset += len(page.List)
		if len(page.List) == 0 || offset >= page.Total {
			break
		}
	}

	answers := make([][]byte, len(fleet))
	errs := make([]error, len(fleet))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(max(concurrency, 1), len(fleet)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				answers[i], errs[i] = envInfo(ctx, hc, base, componentToken, c.AppID, fleet[i].AppID, fleet[i].Refresh)
			}
		}()
	}
	for i := range fleet {
		work <- i
	}
	close(work)
	wg.Wait()

	n := 2
	for i, a := range answers {
		if errs[i] != nil {
			return nil, fmt.Errorf("%s: %w", fleet[i].AppID, errs[i])
		}
		n += len(fleet[i].AppID) + 4 + len(a)
	}
	out := make([]byte, 0, n)
	out = append(out, '{')
	for i, a := range answers {
		if i > 0 {
			out = append(out, ',')
		}
		out = strconv.AppendQuote(out, fleet[i].AppID)
		out = append(out, ':')
		out = append(out, a...)
	}
	return append(out, '}'), nil
}

// envInfo mints one authorizer's token and fetches its getenvinfo answer.
func envInfo(ctx context.Context, hc *http.Client, base, componentToken, componentAppID, appID, refresh string) ([]byte, error) {
	var tok struct {
		Token   string `json:"authorizer_access_token"`
		ErrCode int    `json:"errcode"`
	}
	if err := postJSON(ctx, hc, base+"/cgi-bin/component/api_authorizer_token?component_access_token="+componentToken, map[string]string{
		"component_appid": componentAppID, "authorizer_appid": appID, "authorizer_refresh_token": refresh,
	}, &tok); err != nil {
		return nil, err
	}
	if tok.Token == "" {
		return nil, fmt.Errorf("authorizer token: errcode %d", tok.ErrCode)
	}
	return post(ctx, hc, base+"/tcb/getenvinfo?access_token="+tok.Token)
}

// postJSON POSTs body as JSON and decodes the answer into v.
func postJSON(ctx context.Context, hc *http.Client, url string, body, v any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	a, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return json.Unmarshal(a, v)
}
