package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/google/uuid"

	"github.com/evotor-partner/evotor-partner/tests/freeport"
	"github.com/evotor-partner/evotor-partner/tests/gobuild"
)

// binaries are the programs the harness runs: our server, the simulator, and itself (for the
// baseline mode).
type binaries struct {
	partner, cloud, self string
}

// buildBinaries builds ./cmd/evotor-partner and ./cmd/evotor-cloud, as a user would.
func buildBinaries() (binaries, error) {
	var b binaries
	var err error
	if b.partner, err = gobuild.Binary("evotor-partner"); err != nil {
		return b, err
	}
	if b.cloud, err = gobuild.Binary("evotor-cloud"); err != nil {
		return b, err
	}
	b.self, err = os.Executable()
	return b, err
}

// partner is our server running as a child process, with its app token.
type partner struct {
	*process
	appToken string
}

// startPartner runs our server on databaseURL (empty: SQLite in a data directory under dir)
// with a fresh app token and secret key.
func startPartner(ctx context.Context, name, dir, bin, databaseURL string) (*partner, error) {
	addr, err := freeport.Loopback()
	if err != nil {
		return nil, err
	}
	metricsAddr, err := freeport.Loopback() // metrics stay on, as in production, on a port of their own
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	appToken := uuid.NewString()
	env := []string{
		"EVOTOR_PARTNER_ADDR=" + addr,
		"EVOTOR_PARTNER_METRICS_ADDR=" + metricsAddr,
		"EVOTOR_PARTNER_SYNC_INTERVAL=off", // the load's cloud tokens are not Evotor's: never call api.evotor.ru
		"EVOTOR_PARTNER_APP_TOKEN=" + appToken,
		"EVOTOR_PARTNER_SECRET_KEY=" + hex.EncodeToString(key),
		"EVOTOR_PARTNER_DATA_DIR=" + filepath.Join(dir, name+"-data"),
		"DATABASE_URL=" + databaseURL,
	}
	p, err := startProcess(ctx, name, dir, addr, bin, []string{"serve"}, env)
	if err != nil {
		return nil, err
	}
	return &partner{process: p, appToken: appToken}, nil
}

// startBaseline runs this program's baseline mode: on PostgreSQL with databaseURL, else on
// a SQLite file in a directory under dir.
func startBaseline(ctx context.Context, name, dir, self, databaseURL string) (*process, error) {
	addr, err := freeport.Loopback()
	if err != nil {
		return nil, err
	}
	args := []string{"baseline", "--addr", addr}
	if databaseURL != "" {
		args = append(args, "--database-url", databaseURL)
	} else {
		sqliteDir := filepath.Join(dir, name+"-data")
		if err := os.MkdirAll(sqliteDir, 0o700); err != nil {
			return nil, err
		}
		args = append(args, "--sqlite-dir", sqliteDir)
	}
	return startProcess(ctx, name, dir, addr, self, args, nil)
}

// createUser registers an Evotor user through user/create and returns its user token.
func createUser(baseURL, appToken, userID string) (string, error) {
	body := fmt.Appendf(nil, `{"userId":%q}`, userID)
	req, err := http.NewRequest(http.MethodPost, baseURL+"/api/v1/user/create", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+appToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	var user struct {
		Token string `json:"token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(answer, &user) != nil || user.Token == "" {
		return "", fmt.Errorf("user/create: %d %s", resp.StatusCode, answer)
	}
	return user.Token, nil
}

// receiptTarget is how the closed loop reaches our server as a registered user.
func (p *partner) receiptTarget(userID string) (target, error) {
	token, err := createUser(p.URL, p.appToken, userID)
	if err != nil {
		return target{}, err
	}
	return target{URL: p.URL, Auth: "Bearer " + token, UserID: userID}, nil
}
