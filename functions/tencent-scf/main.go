// Command tencent-scf is wxcloudenv's Tencent Cloud SCF event function, for
// the Go1 runtime. Build it as "main" for linux/amd64.
//
// SCF may deliver the function's variables with each invocation; scf-go-lib
// sets them in the environment before calling the handler, and the core
// reads its configuration then.
package main

import (
	"github.com/tencentyun/scf-go-lib/cloudfunction"

	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
)

func main() {
	cloudfunction.StartHandler(invoke.New(invoke.PlatformTencentSCF))
}
