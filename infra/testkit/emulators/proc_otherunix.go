//go:build unix && !linux

package emulators

import "syscall"

func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

func groupGone(pgid int) bool { return !groupExists(pgid) }
