// Package usage prints the variables internal/config reads. It is its own
// package so that envconfig (whose package initialisation compiles
// regular expressions, 0.3 ms of every cold start) is linked only into
// the local runner, which prints the list, and not into the functions.
package usage

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/kelseyhightower/envconfig"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// format is envconfig's usage table without its REQUIRED column:
// nothing is required, since a missing token fails only its operation.
const format = `{{range .}}{{usage_key .}}	{{usage_type .}}	{{usage_default .}}	{{usage_description .}}
{{end}}`

// Write writes every variable config.Config reads, with its type, default
// and description, from the struct tags that config.Parse reads too.
func Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 1, 0, 2, ' ', 0)
	io.WriteString(tw, "VARIABLE\tTYPE\tDEFAULT\tDESCRIPTION\n")
	if err := envconfig.Usagef("", &config.Config{}, tw, format); err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nThe client's defaults (pkg/wechat): WECHAT_API_BASE_URL=%s WECHAT_TIMEOUT=%s WECHAT_RETRIES=%d WECHAT_MAX_RESPONSE_BYTES=%d\n",
		wechat.DefaultBaseURLs, wechat.DefaultTimeout, wechat.DefaultRetries, wechat.DefaultMaxResponseBytes)
	return err
}
