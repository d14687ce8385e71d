package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evotor-partner/evotor-partner/impl/store"
	"github.com/evotor-partner/evotor-partner/security"
)

func TestAccountsAdd(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(envDataDir, dir)
	t.Setenv(envDatabaseURL, "")
	var out bytes.Buffer
	if err := addAccount([]string{"--login", "shop", "--password-stdin", "--has-billing"}, strings.NewReader("s3cret\n"), &out); err != nil {
		t.Fatal(err)
	}
	if err := addAccount([]string{"--login", "SHOP", "--password-stdin"}, strings.NewReader("x\n"), &out); err == nil {
		t.Fatal("a second account with the same login was created")
	}
	if err := addAccount([]string{"--login", "other"}, strings.NewReader("x\n"), &out); err == nil {
		t.Fatal("accounts add without --password-stdin succeeded")
	}
	st, err := store.Open(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acc, found, err := st.AccountByLogin(context.Background(), "shop")
	if err != nil || !found || !acc.HasBilling || acc.PasswordHash == nil || !security.CheckPassword(*acc.PasswordHash, "s3cret") {
		t.Fatalf("account: %+v %v %v", acc, found, err)
	}
}

func TestConfigRefusesBadValues(t *testing.T) {
	t.Setenv(envDataDir, t.TempDir())
	cases := []struct{ name, value, wantInError string }{
		{envAppToken, "", envAppToken},           // nothing configured
		{envAppToken, "not-a-uuid", envAppToken}, // not a uuid4
		{envBodyLimit, "lots", envBodyLimit},     // not a number
		{envSecretKey, "abcd", envSecretKey},     // too short
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
	if !first.DevToken || first.App.Tokens[0] != second.App.Tokens[0] || !bytes.Equal(first.SecretKey, second.SecretKey) {
		t.Fatal("development token or secret key not reused across starts")
	}
	for _, f := range []string{devAppTokenFile, secretKeyFile} {
		info, err := os.Stat(filepath.Join(dir, f))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, info.Mode(), err)
		}
	}
}
