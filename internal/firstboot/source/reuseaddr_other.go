//go:build !unix

package source

import "syscall"

func reuseAddr(_, _ string, _ syscall.RawConn) error { return nil }
