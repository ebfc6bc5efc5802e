package config

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/kelseyhightower/envconfig"
)

// usageFormat is envconfig's usage table without its REQUIRED column:
// nothing is required, since a missing token fails only its operation.
const usageFormat = `{{range .}}{{usage_key .}}	{{usage_type .}}	{{usage_default .}}	{{usage_description .}}
{{end}}`

// Usage writes every variable Config reads, with its type, default and
// description, from the struct tags that Parse reads too.
func Usage(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 1, 0, 2, ' ', 0)
	io.WriteString(tw, "VARIABLE\tTYPE\tDEFAULT\tDESCRIPTION\n")
	if err := envconfig.Usagef("", &Config{}, tw, usageFormat); err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	d := defaults()
	_, err := fmt.Fprintf(w, "\nThe client's defaults (pkg/wechat): WECHAT_API_BASE_URL=%s WECHAT_TIMEOUT=%s WECHAT_RETRIES=%d WECHAT_MAX_RESPONSE_BYTES=%d\n",
		strings.Join(d.BaseURLs, ","), d.Timeout, d.Retries, d.MaxResponseBytes)
	return err
}
