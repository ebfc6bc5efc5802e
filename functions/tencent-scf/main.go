// Command tencent-scf is wxcloudenv's Tencent Cloud SCF event function, for
// the Go1 runtime. Build it as "main" for linux/amd64.
//
// SCF may deliver the function's variables with each invocation; scf-go-lib
// sets them in the environment before calling the handler, and the core
// reads its configuration then.
//
// Run by hand, outside SCF, it says so and exits 2 instead of waiting for a
// runtime that never calls (use `make run` or `make rie` locally).
package main

import (
	"fmt"
	"os"

	"github.com/tencentyun/scf-go-lib/cloudfunction"

	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
)

// portVar is the variable through which SCF's Go1 runtime tells scf-go-lib
// the port it calls the function on.
const portVar = "_LAMBDA_SERVER_PORT"

func main() {
	if os.Getenv(portVar) == "" {
		fmt.Fprintln(os.Stderr, "tencent-scf: "+portVar+" is not set: this binary runs under Tencent SCF's Go1 runtime. Locally, use `make run` (or `go run ./functions/local -h`).")
		os.Exit(2)
	}
	h := invoke.New(invoke.PlatformTencentSCF)
	invoke.RouteStdLog(h)
	invoke.SetMemoryLimit(os.LookupEnv)
	cloudfunction.StartHandler(h)
}
