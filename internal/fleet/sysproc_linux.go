package fleet

import "syscall"

// sysProcAttr puts each child in its own process group, and has the kernel kill
// it if the supervisor dies without cleaning up (a test binary killed by its
// timeout, say), so that no process outlives the fleet.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
