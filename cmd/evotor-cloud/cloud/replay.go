package cloud

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// ReplayOptions: which files to send, and how.
type ReplayOptions struct {
	Paths     []string // files, or directories of *.json files
	Operation string   // send every file to this operation instead of the one its name gives
	StoreUUID string   // for products and documents
	UserID    string   // the user whose token user-token operations take (via user/create)
	UserToken string   // or this token, as is
}

// Replay sends request files, each to the endpoint its name (or Operation) gives, with the
// credential that endpoint takes, and judges each answer (exactly 200).
func (c *Cloud) Replay(ctx context.Context, o ReplayOptions) (Report, error) {
	rep := newReport()
	files, err := requestFiles(o.Paths)
	if err != nil {
		return rep, err
	}
	token := o.UserToken
	for _, f := range files {
		name := filepath.Base(f)
		op, ok := OperationForFile(name)
		if o.Operation != "" {
			op, ok = OperationByID(o.Operation)
		}
		if !ok {
			rep.add(Step{Name: name, Problem: "no endpoint for this file name (use --op)"})
			continue
		}
		body, err := os.ReadFile(f)
		if err != nil {
			return rep, err
		}
		if op.Credential == UserCredential && token == "" {
			if token, err = c.userToken(ctx, o.UserID); err != nil {
				rep.add(Step{Name: "user/create for a user token", Problem: err.Error()})
				return rep.finish(c), nil
			}
		}
		rep.add(step(name+" → "+op.ID, c.Send(ctx, op, o.StoreUUID, body, c.credential(op, token)), nil))
	}
	return rep.finish(c), nil
}

// userToken registers userID (user/create) to get a user token, as the Cloud would.
func (c *Cloud) userToken(ctx context.Context, userID string) (string, error) {
	op, _ := OperationByID("createUser")
	var user userAnswer
	s := step("user/create", c.Send(ctx, op, "", fmt.Appendf(nil, `{"userId":%q}`, userID), c.cfg.AppAuth), checkUserAnswer(userID, false, &user))
	if !s.OK {
		return "", fmt.Errorf("user/create: %s", s.Problem)
	}
	return user.Token, nil
}

func requestFiles(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		matches, err := filepath.Glob(filepath.Join(p, "*.json"))
		if err != nil {
			return nil, err
		}
		sort.Strings(matches)
		files = append(files, matches...)
	}
	return files, nil
}
