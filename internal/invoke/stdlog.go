package invoke

import (
	"context"
	"log/slog"

	"github.com/wxcloudenv/wxcloudenv/internal/trunc"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// maxStdLogMessage bounds a line that Go's standard library logs on its
// own (net/http's "Unsolicited response received on idle HTTP channel"
// quotes what upstream sent).
const maxStdLogMessage = 1 << 10

// RouteStdLog makes h's logger the process's default (slog and package
// log), so that the standard library's own lines come out as JSON like
// every other line on standard error, scrubbed of the secrets h's runtimes
// keep and bounded. A main calls it once.
func RouteStdLog(h *Handler) { routeStdLog(h.Logger, h.Runtimes.Scrubber()) }

// routeStdLog makes l the default logger, so that lines the standard
// library writes with package log come out as JSON like every other line,
// scrubbed of the secrets sc keeps and bounded.
func routeStdLog(l *slog.Logger, sc *wechat.Scrubber) {
	slog.SetDefault(slog.New(stdLogHandler{l.Handler(), sc}))
}

// stdLogHandler scrubs and bounds each record's message.
type stdLogHandler struct {
	slog.Handler
	sc *wechat.Scrubber
}

func (h stdLogHandler) Handle(ctx context.Context, r slog.Record) error {
	msg := trunc.Cut(h.sc.Scrub(r.Message), maxStdLogMessage)
	r2 := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	r.Attrs(func(a slog.Attr) bool { r2.AddAttrs(a); return true })
	return h.Handler.Handle(ctx, r2)
}

func (h stdLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return stdLogHandler{h.Handler.WithAttrs(as), h.sc}
}

func (h stdLogHandler) WithGroup(name string) slog.Handler {
	return stdLogHandler{h.Handler.WithGroup(name), h.sc}
}
