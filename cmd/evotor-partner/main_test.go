package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evotor-partner/evotor-partner/cmd/internal/cli"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security"
)

func TestAccountsAdd(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(envDataDir, dir)
	t.Setenv(envDatabaseURL, "")
	add := func(stdin string, args ...string) int {
		var out bytes.Buffer
		return program.Run(context.Background(), append([]string{"accounts", "add"}, args...),
			cli.Streams{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &out})
	}
	if code := add("s3cret\n", "--login", "shop", "--password-stdin", "--has-billing"); code != 0 {
		t.Fatalf("accounts add: exit %d", code)
	}
	if code := add("x\n", "--login", "SHOP", "--password-stdin"); code != cli.ExitFailed {
		t.Fatalf("a second account with the same login: exit %d, want %d", code, cli.ExitFailed)
	}
	if code := add("x\n", "--login", "other"); code != cli.ExitUsage {
		t.Fatalf("accounts add without --password-stdin: exit %d, want %d", code, cli.ExitUsage)
	}
	st, err := storage.Open(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acc, found, err := st.AccountByLogin(context.Background(), "shop")
	if err != nil || !found || !acc.HasBilling || acc.PasswordHash == nil || !checkPassword(*acc.PasswordHash, "s3cret") {
		t.Fatalf("account: %+v %v %v", acc, found, err)
	}
}

func TestConfigRefusesBadValues(t *testing.T) {
	t.Setenv(envDataDir, t.TempDir())
	cases := []struct{ name, value, wantInError string }{
		{envAppToken, "", envAppToken},                                   // nothing configured
		{envAppToken, "not-a-uuid", envAppToken},                         // not a uuid4
		{envBodyLimit, "lots", envBodyLimit},                             // not a number
		{envSecretKey, "abcd", envSecretKey},                             // too short
		{envSecretKey, strings.Repeat("ab", 32) + ",abcd", envSecretKey}, // the second key too short
		{envDBTimeout, "0s", envDBTimeout},
		{envDBTimeout, "10s", envDBTimeout}, // a 503 after Evotor's own 10 s would come too late
		{envDBTimeout, "soon", envDBTimeout},
		{envDBConnect, "0", envDBConnect},
	}
	for _, c := range cases {
		t.Run(c.name+"="+c.value, func(t *testing.T) {
			t.Setenv(envAppToken, "3a5f1c2e-7b9d-4e8f-a1b2-c3d4e5f6a7b8")
			t.Setenv(c.name, c.value)
			if _, err := loadConfig(); err == nil || !strings.Contains(err.Error(), c.wantInError) {
				t.Fatalf("error %v does not name %s", err, c.wantInError)
			}
		})
	}
}

func TestConfigDevTokenAndSecretKeyAreKept(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(envDataDir, dir)
	t.Setenv(envDevAppToken, "1")
	first, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	second, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if !first.DevToken || first.App.Tokens[0] != second.App.Tokens[0] || !bytes.Equal(first.SecretKeys[0], second.SecretKeys[0]) {
		t.Fatal("development token or secret key not reused across starts")
	}
	for _, f := range []string{devAppTokenFile, secretKeyFile} {
		info, err := os.Stat(filepath.Join(dir, f))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, info.Mode(), err)
		}
	}
}

// TestConfigPostgresNeedsTheSecretKey: with DATABASE_URL, no key is generated: every instance
// must share one.
func TestConfigPostgresNeedsTheSecretKey(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(envDataDir, dir)
	t.Setenv(envAppToken, "3a5f1c2e-7b9d-4e8f-a1b2-c3d4e5f6a7b8")
	t.Setenv(envDatabaseURL, "postgres://partner@db.example:5432/partner")
	t.Setenv(envSecretKey, "")
	_, err := loadConfig()
	if err == nil || !strings.Contains(err.Error(), envSecretKey) || !strings.Contains(err.Error(), envDatabaseURL) {
		t.Fatalf("error %v does not name %s and %s", err, envSecretKey, envDatabaseURL)
	}
	if _, err := os.Stat(filepath.Join(dir, secretKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a key was generated into the data directory: %v", err)
	}
	keyA, keyB := strings.Repeat("a1", 32), strings.Repeat("b2", 32)
	t.Setenv(envSecretKey, keyA+", "+keyB)
	c, err := loadConfig()
	if err != nil || len(c.SecretKeys) != 2 || c.SecretKeys[0][0] != 0xa1 || c.SecretKeys[1][0] != 0xb2 {
		t.Fatalf("keys %x, %v", c.SecretKeys, err)
	}
}

func checkPassword(encoded, password string) bool {
	ok, err := security.CheckPassword(context.Background(), encoded, password)
	return ok && err == nil
}
