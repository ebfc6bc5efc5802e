package notify_test

import (
	"fmt"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/alertstate"
	"github.com/wxcloudenv/wxcloudenv/internal/notify"
)

// Render shows a message without sending it, the way `make run` previews
// notifications.
func ExampleRender() {
	since := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	r := notify.Report{
		Platform: "aws-lambda", Function: "wxcloudenv-prod",
		Changes: []alertstate.Change{
			{Authorizer: "wxA", Operation: "getenvinfo", Env: "prod-7c21be", Resource: "environment", Status: "HALTED", Message: "environment prod-7c21be is HALTED", Since: since, Change: "resolved"},
			{Authorizer: "wxB", Operation: "getenvinfo", Resource: "operation", Kind: "auth", ErrCode: 61023, Message: "invalid refresh_token", Since: since, Change: "new"},
			{Authorizer: "wxD", Operation: "getenvinfo", Resource: "operation", Kind: "permission", ErrCode: 48001, Since: since.Add(-time.Hour), Change: "resolved"},
			{Authorizer: "wxC", Operation: "getenvinfo", Env: "test-01", Resource: "database:tnt-1", Status: "UNUSABLE", Since: since, Change: "new"},
		},
	}
	fmt.Println(notify.Render(notify.WeCom, r).Text)
	// Output:
	// ### wxcloudenv aws-lambda/wxcloudenv-prod: 2 new, 2 resolved
	// - **FAILING** wxB getenvinfo: auth errcode 61023: invalid refresh_token (since 2026-11-22T08:00:00Z)
	// - **NEW** wxC getenvinfo test-01 database:tnt-1 UNUSABLE (since 2026-11-22T08:00:00Z)
	// - **RESOLVED** wxA getenvinfo prod-7c21be environment (was HALTED since 2026-11-22T08:00:00Z)
	// - **RESOLVED** wxD getenvinfo: permission errcode 48001 (failing since 2026-11-22T07:00:00Z)
}
