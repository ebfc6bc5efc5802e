package storetest

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the server die with the test binary even when the
// test's cleanup never runs.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
