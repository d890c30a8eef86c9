//go:build linux

package rie

import (
	"os"
	"syscall"
)

// sysProcAttr gives the emulator its own process group (Stop kills it and
// the function it started) and SIGKILL if the test binary dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killGroup(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }
