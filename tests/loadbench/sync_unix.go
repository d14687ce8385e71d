//go:build unix

package main

import "syscall"

// syncDisks writes every dirty page of the machine out (sync(2)).
func syncDisks() { syscall.Sync() }
