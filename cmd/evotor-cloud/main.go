// Command evotor-cloud plays Evotor Cloud against a partner server: the documented lifecycle,
// a replay of request files, or an open-loop load. Built on the generated client.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"

	"github.com/evotor-partner/evotor-partner/cmd/internal/version"
)

// Exit codes: 1 when a check failed, 2 for a command line that makes no sense, 130 after Ctrl-C.
const (
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// A command is one subcommand. setup defines its own flags on its own FlagSet and returns
// what to run once they are parsed. Adding a subcommand is one entry in commands.
type command struct {
	name    string
	args    string // the positional arguments' synopsis; "" when it takes none
	summary string
	setup   func(fs *flag.FlagSet) action
}

// An action runs a command with its positional arguments. Its error decides the exit code:
// errFailed 1 (the report says why), a usageProblem 2 with the command's usage, others 1.
type action func(ctx context.Context, args []string, out streams) error

var errFailed = errors.New("a check failed")

// usageProblem is a command line that cannot run.
type usageProblem struct{ error }

var commands = []command{
	{"lifecycle", "", "play the story Evotor documents, step by step, judging every answer", lifecycleCommand},
	{"replay", "DIR|FILE…", "send request files, each to the endpoint its name gives", replayCommand},
	{"load", "", "an open-loop load at a fixed rate, with progress and latency percentiles", loadCommand},
	{"receive", "", "the partner's end of forwarding: verify each message's signature, print it", receiveCommand},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	context.AfterFunc(ctx, stop) // a second Ctrl-C is not caught: it kills at once
	os.Exit(run(ctx, os.Args[1:], streams{os.Stdout, os.Stderr}))
}

type streams struct{ stdout, stderr io.Writer }

// run is the whole command; it returns the exit code.
func run(ctx context.Context, args []string, out streams) int {
	if len(args) == 0 {
		fmt.Fprintln(out.stderr, "evotor-cloud: which command?")
		printUsage(out.stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return help(args[1:], out)
	case "-version", "--version":
		if len(args) > 1 {
			return usageError(out.stderr, "evotor-cloud", fmt.Sprintf("unexpected argument %q", args[1]), printUsage)
		}
		fmt.Fprintln(out.stdout, "evotor-cloud", version.String())
		return 0
	}
	cmd, ok := lookup(args[0])
	if !ok {
		problem := fmt.Sprintf("unknown command %q", args[0])
		if strings.HasPrefix(args[0], "-") {
			problem = fmt.Sprintf("unknown flag %s", args[0])
		}
		return usageError(out.stderr, "evotor-cloud", problem, printUsage)
	}
	code := cmd.run(ctx, args[1:], out)
	if ctx.Err() != nil {
		return exitInterrupted
	}
	return code
}

// help answers `evotor-cloud help [command]`.
func help(args []string, out streams) int {
	switch len(args) {
	case 0:
		printUsage(out.stdout)
		return 0
	case 1:
		if cmd, ok := lookup(args[0]); ok {
			fs, _ := cmd.flags()
			cmd.printUsage(out.stdout, fs)
			return 0
		}
		return usageError(out.stderr, "evotor-cloud help", fmt.Sprintf("unknown command %q", args[0]), printUsage)
	}
	return usageError(out.stderr, "evotor-cloud help", fmt.Sprintf("unexpected argument %q", args[1]), printUsage)
}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, "evotor-cloud plays Evotor Cloud against a partner server.\n\nusage: evotor-cloud <command> [flags]\n\ncommands:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	fmt.Fprintf(tw, "  help [command]\tthis text, or a command's flags (as does <command> --help)\n")
	fmt.Fprintf(tw, "  --version\tthe version and the VCS revision it was built from\n")
	_ = tw.Flush()
}

func usageError(w io.Writer, who, problem string, usage func(io.Writer)) int {
	fmt.Fprintf(w, "%s: %s\n\n", who, problem)
	usage(w)
	return exitUsage
}

// flags is a fresh FlagSet with the command's flags, and the action that reads them.
func (c command) flags() (*flag.FlagSet, action) {
	fs := flag.NewFlagSet("evotor-cloud "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run prints errors and usage itself, to the right stream
	fs.Usage = func() {}
	return fs, c.setup(fs)
}

// run parses the command line (flags may follow positional arguments) and runs the action.
func (c command) run(ctx context.Context, args []string, out streams) int {
	fs, act := c.flags()
	positional, err := parseInterleaved(fs, args)
	usage := func(w io.Writer) { c.printUsage(w, fs) }
	switch {
	case errors.Is(err, flag.ErrHelp) || (err == nil && len(positional) == 1 && positional[0] == "help"):
		usage(out.stdout)
		return 0
	case err != nil:
		return usageError(out.stderr, fs.Name(), flagProblem(err), usage)
	case c.args == "" && len(positional) > 0:
		return usageError(out.stderr, fs.Name(), fmt.Sprintf("unexpected argument %q", positional[0]), usage)
	case c.args != "" && len(positional) == 0:
		return usageError(out.stderr, fs.Name(), "missing "+c.args, usage)
	}
	var problem usageProblem
	switch err := act(ctx, positional, out); {
	case err == nil:
		return 0
	case errors.Is(err, errFailed):
		return exitFailed
	case errors.As(err, &problem):
		return usageError(out.stderr, fs.Name(), err.Error(), usage)
	default:
		fmt.Fprintf(out.stderr, "%s: %v\n", fs.Name(), err)
		return exitFailed
	}
}

// flagProblem words the flag package's errors as the usage writes flags (--name).
func flagProblem(err error) string {
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
		return "unknown flag --" + name
	}
	return err.Error()
}

// parseInterleaved parses flags wherever they stand among the positional arguments (the
// standard flag package stops at the first positional one); after "--" all are positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if parsed := len(args) - len(rest); parsed > 0 && args[parsed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
}

// printUsage shows the command's synopsis and its own flags, GNU-style (--name).
func (c command) printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n\nflags:\n", strings.TrimSpace("evotor-cloud "+c.name+" [flags] "+c.args), c.summary)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  --%s\t%s\n", strings.TrimSpace(f.Name+" "+kind), usage)
	})
	_ = tw.Flush()
}
