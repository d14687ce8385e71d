// Command evotor-cloud plays Evotor Cloud against a partner server: the documented lifecycle,
// a replay of request files, or an open-loop load. Built on the generated client.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/evotor-partner/evotor-partner/cmd/internal/cli"
)

// Exit codes as cmd/internal/cli's (1 a check failed, 2 a command line that makes no sense),
// and 130 after Ctrl-C.
const exitInterrupted = 130

var program = cli.Program{
	Name:    "evotor-cloud",
	Summary: "evotor-cloud plays Evotor Cloud against a partner server.",
	Commands: []cli.Command{
		{Name: "lifecycle", Summary: "play the story Evotor documents, step by step, judging every answer", Setup: lifecycleCommand},
		{Name: "replay", Args: "DIR|FILE…", Summary: "send request files, each to the endpoint its name gives", Setup: replayCommand},
		{Name: "load", Summary: "an open-loop load at a fixed rate, with progress and latency percentiles", Setup: loadCommand},
		{Name: "receive", Summary: "the partner's end of forwarding: verify each message's signature, print it", Setup: receiveCommand},
		{Name: "rest", Args: "[DIR|FILE…]", Summary: "serve Evotor's REST API for one user, from request files, until Ctrl-C", Setup: restCommand},
	},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	context.AfterFunc(ctx, stop) // a second Ctrl-C is not caught: it kills at once
	os.Exit(run(ctx, os.Args[1:], cli.Streams{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}))
}

// run is the whole command; it returns the exit code.
func run(ctx context.Context, args []string, std cli.Streams) int {
	code := program.Run(ctx, args, std)
	if ctx.Err() != nil {
		return exitInterrupted
	}
	return code
}
