// Command tencent-scf is wxcloudenv's Tencent Cloud SCF event function, for
// the Go1 runtime. Build it as "main" for linux/amd64.
//
// SCF may deliver the function's variables with each invocation; they are
// set in the environment before the handler is called (as scf-go-lib
// does), and the core reads its configuration then. The runtime's
// protocol is served by internal/scfrpc, not scf-go-lib's net/rpc server,
// which doubled the binary's size.
//
// Run by hand, outside SCF, it says so and exits 2 instead of waiting for a
// runtime that never calls (use `make run` or `make rie` locally).
package main

import (
	"fmt"
	"os"

	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/internal/scfrpc"
)

// portVar is the variable through which SCF's Go1 runtime tells the
// function the port it calls it on.
const portVar = scfrpc.PortVar

func main() {
	if os.Getenv(portVar) == "" {
		fmt.Fprintln(os.Stderr, "tencent-scf: "+portVar+" is not set: this binary runs under Tencent SCF's Go1 runtime. Locally, use `make run` (or `go run ./functions/local -h`).")
		os.Exit(2)
	}
	h := invoke.New(invoke.PlatformTencentSCF)
	h.KeepWorkers = invoke.PlatformWorkers
	invoke.RouteStdLog(h)
	invoke.SetMemoryLimit(os.LookupEnv)
	err := scfrpc.ListenAndServe(h)
	fmt.Fprintln(os.Stderr, "tencent-scf:", err)
	os.Exit(1)
}
