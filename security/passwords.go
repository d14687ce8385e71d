package security

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters (OWASP's minimum: 19 MiB, 2 passes, 1 lane).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword returns an argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$key) at the
// cost above.
func HashPassword(password string) string {
	return HashPasswordAt(password, argonMemory, argonTime)
}

// HashPasswordAt is HashPassword at another cost (memory in KiB, passes). A check reads the
// cost from the hash, so hashes of any cost stay valid: the tests' accounts are hashed at the
// least, and logging in to them costs next to nothing.
func HashPasswordAt(password string, memoryKiB, passes uint32) string {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	key := argon2.IDKey([]byte(password), salt, passes, memoryKiB, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, memoryKiB, passes,
		argonThreads, base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// dummyPasswordHash is checked when a login does not exist, so that "no such login" costs the
// same time as "wrong password". Made at the first such check, not at start-up: every program
// and test binary importing this package paid for it.
var dummyPasswordHash = sync.OnceValue(func() string { return HashPassword("no account has this password") })

// passwordChecks bounds the argon2 work in flight to the CPUs: each check holds 19 MiB for
// tens of milliseconds, and more at once than there are CPUs only adds memory, not speed (a
// flood of logins would otherwise take the process's memory with it).
var passwordChecks = make(chan struct{}, runtime.GOMAXPROCS(0))

// CheckPassword reports whether password matches encoded; an empty encoded (unknown login, or
// an account without a password) is checked against a dummy hash and never matches. It waits
// its turn among the checks in flight (passwordChecks), or until ctx ends.
func CheckPassword(ctx context.Context, encoded, password string) (bool, error) {
	select {
	case passwordChecks <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-passwordChecks }()
	if encoded == "" {
		_, _ = checkPHC(dummyPasswordHash(), password)
		return false, nil
	}
	ok, err := checkPHC(encoded, password)
	return err == nil && ok, nil
}

func checkPHC(encoded, password string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("not an argon2id hash")
	}
	var version int
	var memory, iterations uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil {
		return false, err
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &iterations, &threads); err != nil {
		return false, err
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, err
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, iterations, memory, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
