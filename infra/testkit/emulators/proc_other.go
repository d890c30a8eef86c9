//go:build !unix

package emulators

import (
	"os"
	"syscall"
)

// Without process groups only the emulator process itself is signalled.

type signal int

const (
	sigTerm signal = iota
	sigKill
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

func signalGroup(pid int, _ signal) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}

func groupGone(int) bool { return true }
