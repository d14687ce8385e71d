package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Step is one delivery of a run and whether it met what Evotor expects.
type Step struct {
	Name     string        `json:"step"`
	Status   int           `json:"status"`
	Duration time.Duration `json:"durationNs"`
	Attempts int           `json:"attempts"`
	OK       bool          `json:"ok"`
	Problem  string        `json:"problem,omitempty"`
}

// Report is a run: its steps, the re-sends it needed, how long it took, and whether every
// step passed.
type Report struct {
	Steps    []Step        `json:"steps"`
	Passed   int           `json:"passed"`
	Failed   int           `json:"failed"`
	Resends  int64         `json:"resends"`
	Duration time.Duration `json:"durationNs"`
	OK       bool          `json:"ok"`
	started  time.Time
}

func newReport() Report { return Report{started: time.Now()} }

func (r *Report) add(s Step) {
	r.Steps = append(r.Steps, s)
}

func (r *Report) finish(c *Cloud) Report {
	r.Passed, r.Failed = 0, 0
	for _, s := range r.Steps {
		if s.OK {
			r.Passed++
		} else {
			r.Failed++
		}
	}
	r.OK = r.Passed > 0 && r.Failed == 0
	r.Resends = c.Resends()
	r.Duration = time.Since(r.started)
	return *r
}

// step judges a result: exactly 200, and, where Evotor documents a body, that body.
func step(name string, res Result, check func([]byte) string) Step {
	s := Step{Name: name, Status: res.Status, Duration: res.Duration, Attempts: res.Attempts}
	switch {
	case res.Err != nil:
		s.Problem = res.Err.Error()
	case res.Status != 200:
		s.Problem = fmt.Sprintf("status %d, Evotor expects exactly 200: %.200s", res.Status, res.Body)
	case check != nil:
		s.Problem = check(res.Body)
	}
	s.OK = s.Problem == ""
	return s
}

// userAnswer is user/create's and user/verify's documented 200 body.
type userAnswer struct {
	UserID     string `json:"userId"`
	Token      string `json:"token"`
	HasBilling *bool  `json:"hasBilling"`
}

func checkUserAnswer(userID string, verify bool, into *userAnswer) func([]byte) string {
	return func(body []byte) string {
		if err := json.Unmarshal(body, into); err != nil {
			return "body is not JSON: " + err.Error()
		}
		switch {
		case into.UserID != userID:
			return fmt.Sprintf("userId %q, want %q", into.UserID, userID)
		case into.Token == "" || len(into.Token) > 128:
			return "token missing or longer than 128 characters"
		case verify && into.HasBilling == nil:
			return "hasBilling missing"
		}
		return ""
	}
}

// LifecycleOptions: the Evotor user to play; with Login, the user logs in (user/verify)
// instead of registering (user/create).
type LifecycleOptions struct {
	UserID, Login, Password string
}

// Lifecycle plays the story Evotor documents, in its order, with the user token the server
// returns, and judges every step.
func (c *Cloud) Lifecycle(ctx context.Context, o LifecycleOptions) Report {
	rep := newReport()
	app := c.cfg.AppAuth
	product, sub := uuid.NewString(), uuid.NewString()
	store, device, employee := "20170228-"+uuid.NewString()[9:], uuid.NewString(), uuid.NewString()
	send := func(name, opID, storeUUID string, body []byte, auth string, check func([]byte) string) {
		op, _ := OperationByID(opID)
		rep.add(step(name, c.Send(ctx, op, storeUUID, body, auth), check))
	}
	send("subscription created", "subscriptionEvent", "", subscriptionEvent(sub, o.UserID, product, 1, "SubscriptionCreated",
		`,"planId":"starter","trialPeriodDuration":"P14DT","deviceNumber":1`), app, nil)
	send("application installed", "installationEvent", "", installationEvent(o.UserID, product, "ApplicationInstalled"), app, nil)
	var user userAnswer
	if o.Login != "" {
		body, _ := json.Marshal(map[string]string{"userId": o.UserID, "username": o.Login, "password": o.Password})
		send("user/verify", "verifyUser", "", body, app, checkUserAnswer(o.UserID, true, &user))
	} else {
		send("user/create", "createUser", "", fmt.Appendf(nil, `{"userId":%q,"customField":"evotor-cloud lifecycle"}`, o.UserID),
			app, checkUserAnswer(o.UserID, false, &user))
	}
	token := c.credential(Operation{Credential: UserCredential}, user.Token)
	send("user/token", "storeCloudToken", "", fmt.Appendf(nil, `{"userId":%q,"token":%q}`, o.UserID, uuid.NewString()), app, nil)
	send("stores", "putStores", "", storesBody(store), token, nil)
	send("devices", "putDevices", "", devicesBody(device, store), token, nil)
	send("employees", "putEmployees", "", employeesBody(employee, store), token, nil)
	send("products", "createProducts", store, productsBody(3), token, nil)
	send("documents", "putDocuments", store, documentsBody(device), token, nil)
	send("receipts", "postReceipts", "", receiptBody(o.UserID, store, device, employee), token, nil)
	send("terms changed", "subscriptionEvent", "", subscriptionEvent(sub, o.UserID, product, 2, "SubscriptionTermsChanged",
		`,"planId":"pro","deviceNumber":3`), app, nil)
	send("termination requested", "subscriptionEvent", "", subscriptionEvent(sub, o.UserID, product, 3, "SubscriptionTerminationRequested", ""), app, nil)
	send("application uninstalled", "installationEvent", "", installationEvent(o.UserID, product, "ApplicationUninstalled"), app, nil)
	return rep.finish(c)
}
