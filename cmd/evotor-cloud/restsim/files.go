package restsim

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
)

// PutRequestFiles records request files into the model for user, each as the webhook its name
// gives (cloud.OperationForFile: stores*.json, products_*.json…, as tests/testdata/evotor/requests
// names them); store is the store of products and documents files. A directory stands for its
// *.json files. Files of webhooks that carry no records (user/create, receipts…) are skipped;
// it returns how many were recorded.
func (m *Model) PutRequestFiles(user, store string, paths ...string) (int, error) {
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return 0, err
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		matches, _ := filepath.Glob(filepath.Join(p, "*.json"))
		files = append(files, matches...)
	}
	n := 0
	for _, f := range files {
		op, ok := cloud.OperationForFile(filepath.Base(f))
		if !ok {
			continue
		}
		body, err := os.ReadFile(f)
		if err != nil {
			return n, err
		}
		carries, err := m.PutWebhook(user, op.ID, store, body)
		if err != nil {
			return n, fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
		if carries {
			n++
		}
	}
	return n, nil
}
