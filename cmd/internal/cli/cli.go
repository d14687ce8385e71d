// Package cli runs the subcommands of this module's binaries the same way: each command has
// flags of its own (GNU-style --name, anywhere among its arguments); --help, -h and help print
// usage to stdout and exit 0; a command line that makes no sense prints the problem and usage
// to stderr and exits 2; a failure exits 1; --version prints the build (cmd/internal/version).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/evotor-partner/evotor-partner/cmd/internal/version"
)

// Exit codes.
const (
	ExitFailed = 1
	ExitUsage  = 2
)

// A Command is one subcommand. Setup defines its flags on its own FlagSet and returns what to
// run once they are parsed.
type Command struct {
	Name    string // one word ("serve") or more ("accounts add")
	Args    string // the positional arguments' synopsis; "" when it takes none
	Summary string
	Details string // after the summary in the command's usage; may be ""
	Setup   func(fs *flag.FlagSet) Action
}

// An Action runs a command with its positional arguments. Its error decides the exit code:
// ErrFailed 1 (the output said why), a UsageError 2 with the command's usage, others 1.
type Action func(ctx context.Context, args []string, std Streams) error

// Streams are the process's standard streams.
type Streams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// ErrFailed ends a command with exit 1 and nothing more said.
var ErrFailed = errors.New("failed")

type usageProblem struct{ error }

func (u usageProblem) Unwrap() error { return u.error }

// UsageError is err as a command line that cannot run (exit 2, with usage).
func UsageError(err error) error { return usageProblem{err} }

// Program is a binary: its commands, and the one run without any (Default; "" asks which).
type Program struct {
	Name     string
	Summary  string // the first line of its usage
	Commands []Command
	Default  string
	Footer   string // the last lines of its usage; may be ""
}

// Run is the whole command line; it returns the exit code.
func (p Program) Run(ctx context.Context, args []string, std Streams) int {
	if len(args) == 0 {
		if cmd, ok := p.lookup(p.Default); ok {
			return cmd.run(ctx, p.Name, nil, std)
		}
		fmt.Fprintf(std.Stderr, "%s: which command?\n", p.Name)
		p.printUsage(std.Stderr)
		return ExitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return p.help(args[1:], std)
	case "-version", "--version":
		if len(args) > 1 {
			return usageError(std.Stderr, p.Name, fmt.Sprintf("unexpected argument %q", args[1]), p.printUsage)
		}
		fmt.Fprintln(std.Stdout, p.Name, version.String())
		return 0
	}
	cmd, rest, ok := p.find(args)
	switch {
	case ok:
		return cmd.run(ctx, p.Name, rest, std)
	case strings.HasPrefix(args[0], "-"):
		return usageError(std.Stderr, p.Name, fmt.Sprintf("unknown flag %s", args[0]), p.printUsage)
	case p.isGroup(args[0]) && len(args) > 1 && isHelp(args[1]):
		p.printUsage(std.Stdout) // `accounts --help`: the commands of the group are in it
		return 0
	}
	return usageError(std.Stderr, p.Name, fmt.Sprintf("unknown command %q", strings.Join(args[:min(len(args), 2)], " ")), p.printUsage)
}

func isHelp(arg string) bool { return slices.Contains([]string{"help", "-h", "-help", "--help"}, arg) }

// help answers `help [command]`.
func (p Program) help(args []string, std Streams) int {
	if len(args) == 0 {
		p.printUsage(std.Stdout)
		return 0
	}
	if cmd, ok := p.lookup(strings.Join(args, " ")); ok {
		fs, _ := cmd.flags(p.Name)
		cmd.printUsage(std.Stdout, fs)
		return 0
	}
	return usageError(std.Stderr, p.Name+" help", fmt.Sprintf("unknown command %q", strings.Join(args, " ")), p.printUsage)
}

func (p Program) lookup(name string) (Command, bool) {
	for _, c := range p.Commands {
		if c.Name == name {
			return c, true
		}
	}
	return Command{}, false
}

// find is the command whose words begin args, and the arguments after them.
func (p Program) find(args []string) (Command, []string, bool) {
	for _, c := range p.Commands {
		words := strings.Fields(c.Name)
		if len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			return c, args[len(words):], true
		}
	}
	return Command{}, nil, false
}

// isGroup: word is the first of a command of several words (accounts in "accounts add").
func (p Program) isGroup(word string) bool {
	for _, c := range p.Commands {
		if first, rest, ok := strings.Cut(c.Name, " "); ok && rest != "" && first == word {
			return true
		}
	}
	return false
}

func (p Program) printUsage(w io.Writer) {
	synopsis := "<command>"
	if p.Default != "" {
		synopsis = "[command]"
	}
	fmt.Fprintf(w, "%s\n\nusage: %s %s [flags]\n\ncommands:\n", p.Summary, p.Name, synopsis)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for _, c := range p.Commands {
		summary := c.Summary
		if c.Name == p.Default {
			summary += " (the default)"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(c.Name+" "+c.Args), summary)
	}
	fmt.Fprintf(tw, "  help [command]\tthis text, or a command's flags (as does <command> --help)\n")
	fmt.Fprintf(tw, "  --version\tthe version and the VCS revision it was built from\n")
	_ = tw.Flush()
	if p.Footer != "" {
		fmt.Fprintf(w, "\n%s\n", p.Footer)
	}
}

func usageError(w io.Writer, who, problem string, usage func(io.Writer)) int {
	fmt.Fprintf(w, "%s: %s\n\n", who, problem)
	usage(w)
	return ExitUsage
}

// flags is a fresh FlagSet with the command's flags, and the action that reads them.
func (c Command) flags(program string) (*flag.FlagSet, Action) {
	fs := flag.NewFlagSet(program+" "+c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run prints errors and usage itself, to the right stream
	fs.Usage = func() {}
	return fs, c.Setup(fs)
}

// run parses the command line (flags may follow positional arguments) and runs the action.
func (c Command) run(ctx context.Context, program string, args []string, std Streams) int {
	fs, act := c.flags(program)
	positional, err := parseInterleaved(fs, args)
	usage := func(w io.Writer) { c.printUsage(w, fs) }
	switch {
	case errors.Is(err, flag.ErrHelp) || (err == nil && len(positional) == 1 && positional[0] == "help"):
		usage(std.Stdout)
		return 0
	case err != nil:
		return usageError(std.Stderr, fs.Name(), flagProblem(err), usage)
	case c.Args == "" && len(positional) > 0:
		return usageError(std.Stderr, fs.Name(), fmt.Sprintf("unexpected argument %q", positional[0]), usage)
	case c.Args != "" && len(positional) == 0:
		return usageError(std.Stderr, fs.Name(), "missing "+c.Args, usage)
	}
	var problem usageProblem
	switch err := act(ctx, positional, std); {
	case err == nil:
		return 0
	case errors.Is(err, ErrFailed):
		return ExitFailed
	case errors.As(err, &problem):
		return usageError(std.Stderr, fs.Name(), err.Error(), usage)
	default:
		fmt.Fprintf(std.Stderr, "%s: %v\n", fs.Name(), err)
		return ExitFailed
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
func (c Command) printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", strings.TrimSpace(fs.Name()+" [flags] "+c.Args), c.Summary)
	if c.Details != "" {
		fmt.Fprintf(w, "\n%s\n", c.Details)
	}
	fmt.Fprint(w, "\nflags:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  --%s\t%s\n", strings.TrimSpace(f.Name+" "+kind), usage)
	})
	fmt.Fprintf(tw, "  --help\tthis text\n")
	_ = tw.Flush()
}
