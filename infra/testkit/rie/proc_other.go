//go:build !unix

package rie

import (
	"os"
	"syscall"
)

// Without process groups only the emulator itself is killed.
func sysProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(p *os.Process) { _ = p.Kill() }
