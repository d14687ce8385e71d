package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// validatorResult is the security package's own benchmark of the validator on a receipt.
type validatorResult struct {
	NsPerOp, AllocsPerOp float64
}

// validatorBenchmark runs `go test ./security -bench ValidatorReceipt -benchmem` count times
// and keeps the median of each figure.
func validatorBenchmark(ctx context.Context, count int) (validatorResult, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "./security", "-run", "^$", "-bench", "^BenchmarkValidatorReceipt$",
		"-benchmem", "-count", strconv.Itoa(count))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return validatorResult{}, fmt.Errorf("go test -bench ValidatorReceipt: %w\n%s", err, out)
	}
	return parseBenchmark(out, "BenchmarkValidatorReceipt")
}

// parseBenchmark reads the "value unit" pairs of the named benchmark's lines.
func parseBenchmark(out []byte, name string) (validatorResult, error) {
	var ns, allocs []float64
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || !strings.HasPrefix(fields[0], name) {
			continue
		}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			switch fields[i+1] {
			case "ns/op":
				ns = append(ns, v)
			case "allocs/op":
				allocs = append(allocs, v)
			}
		}
	}
	if len(ns) == 0 || len(allocs) == 0 {
		return validatorResult{}, fmt.Errorf("no ns/op and allocs/op for %s in:\n%s", name, out)
	}
	return validatorResult{NsPerOp: median(ns), AllocsPerOp: median(allocs)}, nil
}
