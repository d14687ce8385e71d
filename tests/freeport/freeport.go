// Package freeport hands out loopback addresses for the servers tests start as processes.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// lowest is the lowest port handed out: above the ports services are configured on.
const lowest = 10000

var (
	mu     sync.Mutex
	handed = map[int]bool{} // never the same port twice in one process
)

// Loopback is a 127.0.0.1 address nobody listens on, for a server that binds it later —
// sometimes seconds later, or again after a kill -9. Its port is below the kernel's ephemeral
// range: a port from that range (what port 0 gives) can be taken meanwhile as the local end of
// any outgoing connection on the machine (a database pool's, an HTTP client's, a server
// retrying a destination that is down), and the later bind fails with "address already in
// use" — a failure CI met. Where the range leaves no room below it, port 0 is the fallback.
func Loopback() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if top := ephemeralLow(); top-lowest >= 1000 {
		for range 100 {
			port := lowest + rand.IntN(top-lowest)
			if handed[port] {
				continue
			}
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			if ln, err := net.Listen("tcp", addr); err == nil {
				ln.Close()
				handed[port] = true
				return addr, nil
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("no free loopback port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// ephemeralLow is the first port of Linux's ephemeral range (32768, its default, where it
// cannot be read).
func ephemeralLow() int {
	raw, _ := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if fields := strings.Fields(string(raw)); len(fields) == 2 {
		if low, err := strconv.Atoi(fields[0]); err == nil {
			return low
		}
	}
	return 32768
}
