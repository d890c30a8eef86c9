//go:build unix && !linux

package rie

import (
	"os"
	"syscall"
)

// sysProcAttr gives the emulator its own process group, so Stop kills it and
// the function it started.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func killGroup(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }
