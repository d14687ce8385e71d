//go:build !unix

package main

// syncDisks: nothing to do where there is no sync(2) (the harness reads /proc: Linux only).
func syncDisks() {}
