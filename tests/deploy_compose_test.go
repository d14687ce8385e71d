package tests

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// deploy/compose.yaml cannot be started here (no images can be pulled, `podman run` is refused),
// so it is checked against what it has to agree with: the variables the server's code reads, the
// ports the Containerfile EXPOSEs, the env file, and what production needs (2+ replicas on one
// PostgreSQL with one secret key, health checks, restart policies, forwarding to the receiver).

const (
	composePath        = "../deploy/compose.yaml"
	composeEnvFilePath = "../deploy/example.env"
	containerfilePath  = "../Containerfile"
	deployServerCmdDir = "../cmd/evotor-partner"
	deployCloudCmdDir  = "../cmd/evotor-cloud"
	imageServerBinary  = "/usr/local/bin/evotor-partner"
	imageCloudBinary   = "/usr/local/bin/evotor-cloud"
)

func TestDeployComposeAgreesWithServerAndImage(t *testing.T) {
	t.Parallel()
	in := readDeployInputs(t)
	for _, p := range checkDeployCompose(in) {
		t.Error(p)
	}
}

// TestDeployComposeCatchesMistakes breaks deploy/compose.yaml, deploy/example.env and the
// Containerfile in the ways they could go wrong and wants each caught: the check above is only
// worth what it finds.
func TestDeployComposeCatchesMistakes(t *testing.T) {
	t.Parallel()
	in := readDeployInputs(t)
	for _, c := range []struct {
		name, old, new, want string
		file                 string // "": deploy/compose.yaml
	}{
		{"a variable the server does not read", "    EVOTOR_PARTNER_ADMIN_TOKEN: ", "    EVOTOR_PARTNER_ADMIN_TOKENS: ", "EVOTOR_PARTNER_ADMIN_TOKENS is not a variable", ""},
		{"a published port the image does not expose", `"8081:8080"`, `"8081:8088"`, "8088 is not EXPOSEd", ""},
		{"the public port not published", "      - \"8082:8080\"\n", "", "partner-2: the public port 8080", ""},
		{"metrics published on every interface", `"127.0.0.1:9092:9090"`, `"9092:9090"`, "metrics port 9090 is published on every interface", ""},
		{"one replica", "  partner-2:\n    <<: *partner\n    ports:\n      - \"8082:8080\"\n      - \"127.0.0.1:9092:9090\"\n", "", "2 or more replicas", ""},
		{"a variable missing from the env file", "image: ${PARTNER_IMAGE:-evotor-partner:latest}\n    entrypoint", "image: ${PARTNER_IMAGES:-evotor-partner:latest}\n    entrypoint", "${PARTNER_IMAGES} is not in deploy/example.env", ""},
		{"a secret that may stay empty", "${EVOTOR_PARTNER_ADMIN_TOKEN:?", "${EVOTOR_PARTNER_ADMIN_TOKEN:-", "EVOTOR_PARTNER_ADMIN_TOKEN is a secret", ""},
		{"no restart policy", "  restart: unless-stopped\n  # On SIGTERM", "  # On SIGTERM", "partner-1: restart", ""},
		{"no health check", `      test: ["CMD", "pg_isready", "-U", "evotor", "-d", "evotor"]`, `      disable: true`, "postgres: no health check", ""},
		{"a health check the server has no command for", `"/usr/local/bin/evotor-partner", "healthcheck"]`, `"/usr/local/bin/evotor-partner", "probe"]`, `no command "probe"`, ""},
		{"forwarding to another port than the receiver's", `"--listen", ":8090"`, `"--listen", ":8091"`, "which listens on port 8091", ""},
		{"the receiver with another secret", "    environment:\n      EVOTOR_PARTNER_FORWARD_SECRET: ${EVOTOR_PARTNER_FORWARD_SECRET:?", "    environment:\n      EVOTOR_PARTNER_FORWARD_SECRET: x${EVOTOR_PARTNER_FORWARD_SECRET:?", "the receiver's EVOTOR_PARTNER_FORWARD_SECRET", ""},
		{"a database the replicas do not wait for", "    postgres:\n      condition: service_healthy", "    postgres:\n      condition: service_started", "service_healthy", ""},
		{"too short a grace period", "stop_grace_period: 30s", "stop_grace_period: 10s", "stop_grace_period", ""},
		{"a mistyped key", "  healthcheck:\n    test: [\"CMD\", \"/usr/local/bin/evotor-partner\", \"healthcheck\"]", "  healtcheck:\n    test: [\"CMD\", \"/usr/local/bin/evotor-partner\", \"healthcheck\"]", "healtcheck", ""},
		{"a secret in the env file", "\nEVOTOR_PARTNER_SECRET_KEY=\n", "\nEVOTOR_PARTNER_SECRET_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", "EVOTOR_PARTNER_SECRET_KEY is a secret: leave it empty", "env"},
		{"a variable the env file lacks", "\nPOSTGRES_PASSWORD=\n", "\n", "${POSTGRES_PASSWORD} is not in deploy/example.env", "env"},
		{"a variable the compose file does not use", "\nPOSTGRES_PASSWORD=\n", "\nPOSTGRES_PASSWORD=\nPOSTGRES_PASSWORDS=\n", "POSTGRES_PASSWORDS is not used", "env"},
		{"the metrics port not exposed", "EXPOSE 8080 9090", "EXPOSE 8080", "port \"9090\", which the Containerfile does not EXPOSE", "Containerfile"},
		{"the image listening elsewhere", "EVOTOR_PARTNER_ADDR=:8080", "EVOTOR_PARTNER_ADDR=:8000", "port \"8000\", which the Containerfile does not EXPOSE", "Containerfile"},
		{"an image variable the server does not read", "EVOTOR_PARTNER_DATA_DIR=", "EVOTOR_PARTNER_DATADIR=", "ENV EVOTOR_PARTNER_DATADIR is not a variable", "Containerfile"},
	} {
		t.Run(c.name, func(t *testing.T) {
			broken := in
			file, name := &broken.compose, "deploy/compose.yaml"
			switch c.file {
			case "env":
				file, name = &broken.envFile, "deploy/example.env"
			case "Containerfile":
				file, name = &broken.containerfile, "Containerfile"
			}
			if n := strings.Count(string(*file), c.old); n != 1 {
				t.Fatalf("%s holds %q %d times, want once: update this case", name, c.old, n)
			}
			*file = []byte(strings.Replace(string(*file), c.old, c.new, 1))
			problems := checkDeployCompose(broken)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
				t.Errorf("not caught: want a problem containing %q, got %q", c.want, problems)
			}
		})
	}
}

// deployInputs is what the check reads: the files, and what the code of each command knows.
type deployInputs struct {
	compose, envFile, containerfile []byte
	serverEnv, cloudEnv             map[string]bool // the variables each command's code names
	serverCommands                  map[string]bool // evotor-partner's commands ("serve", "sync", …)
}

func readDeployInputs(t *testing.T) deployInputs {
	t.Helper()
	var in deployInputs
	for path, into := range map[string]*[]byte{composePath: &in.compose, composeEnvFilePath: &in.envFile, containerfilePath: &in.containerfile} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		*into = b
	}
	var serverLits, cloudLits []string
	var err error
	if serverLits, in.serverCommands, err = deployGoLiterals(deployServerCmdDir); err != nil {
		t.Fatal(err)
	}
	if cloudLits, _, err = deployGoLiterals(deployCloudCmdDir); err != nil {
		t.Fatal(err)
	}
	in.serverEnv, in.cloudEnv = deployEnvNames(serverLits), deployEnvNames(cloudLits)
	for _, must := range []string{"DATABASE_URL", "EVOTOR_PARTNER_SECRET_KEY", "EVOTOR_PARTNER_ADDR", "EVOTOR_PARTNER_METRICS_ADDR"} {
		if !in.serverEnv[must] { // the derivation itself is wrong if it misses these
			t.Fatalf("found no %s among the string constants of %s", must, deployServerCmdDir)
		}
	}
	if !in.serverCommands["serve"] {
		t.Fatalf("found no command serve in %s", deployServerCmdDir)
	}
	return in
}

var deployEnvNameRE = regexp.MustCompile(`^(EVOTOR_PARTNER_[A-Z0-9_]+|DATABASE_URL)$`)

// deployGoLiterals is every string literal in the non-test Go files of dir, and the values of
// `Name:` in its composite literals (the cli.Command names).
func deployGoLiterals(dir string) (lits []string, names map[string]bool, err error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, nil, err
	}
	names = map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			return nil, nil, err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING {
					lits = append(lits, s)
				}
			case *ast.KeyValueExpr:
				if key, ok := n.Key.(*ast.Ident); ok && key.Name == "Name" {
					if lit, ok := n.Value.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						names[s] = true
					}
				}
			}
			return true
		})
	}
	return lits, names, nil
}

func deployEnvNames(lits []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range lits {
		if deployEnvNameRE.MatchString(s) {
			m[s] = true
		}
	}
	return m
}

// deployGoRuntimeEnv is what the Go runtime and standard library read in any of the binaries.
var deployGoRuntimeEnv = map[string]bool{"TZ": true, "SSL_CERT_FILE": true, "SSL_CERT_DIR": true,
	"GOMEMLIMIT": true, "GOMAXPROCS": true, "GOGC": true, "GODEBUG": true}

// The parts of the compose file this check reads. Every key of a service must be one of these
// (a mistyped key is an error, not a silently ignored setting).
type composeFile struct {
	Name       string                    `yaml:"name"`
	Services   map[string]composeService `yaml:"services"`
	Volumes    map[string]any            `yaml:"volumes"`
	Extensions map[string]any            `yaml:",inline"` // x-… (the replicas' common part)
}

type composeService struct {
	Image           string               `yaml:"image"`
	Entrypoint      []string             `yaml:"entrypoint"`
	Command         []string             `yaml:"command"`
	Restart         string               `yaml:"restart"`
	StopGracePeriod string               `yaml:"stop_grace_period"`
	Environment     map[string]string    `yaml:"environment"`
	Ports           []string             `yaml:"ports"`
	Volumes         []string             `yaml:"volumes"`
	DependsOn       map[string]dependsOn `yaml:"depends_on"`
	Healthcheck     *struct {
		Test        []string `yaml:"test"`
		Disable     bool     `yaml:"disable"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
}

type dependsOn struct {
	Condition string `yaml:"condition"`
}

// checkDeployCompose is every disagreement found; none is the goal.
func checkDeployCompose(in deployInputs) (problems []string) {
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	envFile, err := parseComposeEnvFile(in.envFile)
	if err != nil {
		return []string{"deploy/example.env: " + err.Error()}
	}
	for name, value := range envFile {
		if deploySecretName(name) && value != "" {
			bad("deploy/example.env: %s is a secret: leave it empty (a placeholder in the repository, never a value)", name)
		}
	}
	image, err := parseDeployContainerfile(in.containerfile)
	if err != nil {
		return []string{"Containerfile: " + err.Error()}
	}
	for name := range image.env {
		if !in.serverEnv[name] && !deployGoRuntimeEnv[name] {
			bad("Containerfile: ENV %s is not a variable the server reads", name)
		}
	}

	// Interpolation (${VAR}, ${VAR:-default}, ${VAR:?error}) from the env file, as compose does it;
	// a required secret left empty there stands for the value a partner fills in.
	var root yaml.Node
	if err := yaml.Unmarshal(in.compose, &root); err != nil {
		return []string{"deploy/compose.yaml: " + err.Error()}
	}
	referenced := map[string]bool{}
	composeWalkScalars(&root, func(n *yaml.Node) {
		v, refs, err := composeInterpolate(n.Value, envFile)
		if err != nil {
			bad("deploy/compose.yaml line %d: %v", n.Line, err)
			return
		}
		for _, r := range refs {
			referenced[r.name] = true
			if _, ok := envFile[r.name]; !ok {
				bad("deploy/compose.yaml line %d: ${%s} is not in deploy/example.env", n.Line, r.name)
			}
			if deploySecretName(r.name) && r.op != ":?" {
				bad("deploy/compose.yaml line %d: %s is a secret: want ${%s:?message}, so compose refuses to start without it", n.Line, r.name, r.name)
			}
		}
		n.Value = v
	})
	for name := range envFile {
		if !referenced[name] {
			bad("deploy/example.env: %s is not used by deploy/compose.yaml", name)
		}
	}
	var cf composeFile
	dec := yaml.NewDecoder(bytes.NewReader(composeMarshal(&root)))
	dec.KnownFields(true)
	if err := dec.Decode(&cf); err != nil {
		return append(problems, "deploy/compose.yaml: "+err.Error())
	}
	for k := range cf.Extensions {
		if !strings.HasPrefix(k, "x-") {
			bad("deploy/compose.yaml: unknown top-level key %q", k)
		}
	}

	// Which service is which: the servers run the image's own entrypoint (evotor-partner serve),
	// the receiver is evotor-cloud receive, the database is PostgreSQL's image.
	var servers, receivers, databases []string
	for _, name := range slices.Sorted(maps.Keys(cf.Services)) {
		s := cf.Services[name]
		switch {
		case len(s.Entrypoint) == 0 && (len(s.Command) == 0 || slices.Equal(s.Command, []string{"serve"})) && s.Image != "" && !strings.Contains(s.Image, "postgres"):
			servers = append(servers, name)
		case slices.Equal(s.Entrypoint, []string{imageCloudBinary}) && len(s.Command) > 0 && s.Command[0] == "receive":
			receivers = append(receivers, name)
		case strings.Contains(s.Image, "postgres"):
			databases = append(databases, name)
		default:
			bad("%s: neither a server, the receiver nor PostgreSQL", name)
		}
	}
	if len(servers) < 2 {
		bad("want 2 or more replicas of the server, got %d (%v)", len(servers), servers)
	}
	if len(receivers) != 1 || len(databases) != 1 {
		return append(problems, fmt.Sprintf("want one receiver and one PostgreSQL, got %v and %v", receivers, databases))
	}
	receiver, db := receivers[0], databases[0]

	// Every service: a restart policy and a health check; the image's own binaries as probes.
	for _, name := range slices.Sorted(maps.Keys(cf.Services)) {
		s := cf.Services[name]
		if !slices.Contains([]string{"always", "unless-stopped", "on-failure"}, s.Restart) {
			bad("%s: restart %q: want always, unless-stopped or on-failure", name, s.Restart)
		}
		h := s.Healthcheck
		if h == nil || h.Disable || len(h.Test) < 2 || (h.Test[0] != "CMD" && h.Test[0] != "CMD-SHELL") {
			bad("%s: no health check (want healthcheck.test: [CMD, …])", name)
			continue
		}
		if name != db {
			if h.Test[0] != "CMD" {
				bad("%s: healthcheck %v: the image has no shell, want CMD", name, h.Test)
			} else if h.Test[1] != imageServerBinary || len(h.Test) < 3 || !in.serverCommands[h.Test[2]] {
				bad("%s: healthcheck %v: evotor-partner (%s) has no command %q", name, h.Test, imageServerBinary, strings.Join(h.Test[2:min(3, len(h.Test))], ""))
			}
		}
	}

	// The servers: known variables, the image's ports, one database and one key for all.
	exposed := image.exposed
	shared := map[string]string{}
	hostPorts := map[string]string{}
	for _, name := range servers {
		s := cf.Services[name]
		env := map[string]string{}
		for k, v := range image.env {
			env[k] = v
		}
		for k, v := range s.Environment {
			if !in.serverEnv[k] && !deployGoRuntimeEnv[k] {
				bad("%s: %s is not a variable the server reads (%s)", name, k, deployServerCmdDir)
			}
			env[k] = v
		}
		for _, k := range []string{"DATABASE_URL", "EVOTOR_PARTNER_SECRET_KEY", "EVOTOR_PARTNER_ADMIN_TOKEN", "EVOTOR_PARTNER_APP_TOKEN",
			"EVOTOR_PARTNER_FORWARD_URL", "EVOTOR_PARTNER_FORWARD_SECRET", "EVOTOR_PARTNER_FORWARD_ALLOW_HTTP"} {
			if env[k] == "" {
				bad("%s: %s is not set", name, k)
			}
			if first, ok := shared[k]; ok && first != env[k] {
				bad("%s: %s differs from %s's: every replica must share it", name, k, servers[0])
			}
			shared[k] = env[k]
		}
		publicPort, metricsPort := deployAddrPort(env["EVOTOR_PARTNER_ADDR"]), deployAddrPort(env["EVOTOR_PARTNER_METRICS_ADDR"])
		for _, p := range []string{publicPort, metricsPort} {
			if !exposed[p] {
				bad("%s: the server listens on port %q, which the Containerfile does not EXPOSE (%v)", name, p, slices.Sorted(maps.Keys(exposed)))
			}
		}
		published := map[string]bool{}
		for _, spec := range s.Ports {
			hostIP, hostPort, target, err := composeParsePort(spec)
			if err != nil {
				bad("%s: ports %q: %v", name, spec, err)
				continue
			}
			if !exposed[target] {
				bad("%s: ports %q: %s is not EXPOSEd by the Containerfile (%v)", name, spec, target, slices.Sorted(maps.Keys(exposed)))
			}
			if target != publicPort && target != metricsPort {
				bad("%s: ports %q: nothing listens on %s", name, spec, target)
			}
			if target == metricsPort && !deployIsLoopback(hostIP) {
				bad("%s: ports %q: the metrics port %s is published on every interface: want 127.0.0.1:…", name, spec, target)
			}
			if other, ok := hostPorts[hostIP+":"+hostPort]; ok && hostPort != "" {
				bad("%s: ports %q: host port %s is %s's too", name, spec, hostPort, other)
			}
			hostPorts[hostIP+":"+hostPort] = name
			published[target] = true
		}
		if !published[publicPort] {
			bad("%s: the public port %s is not published", name, publicPort)
		}
		if d, ok := s.DependsOn[db]; !ok || d.Condition != "service_healthy" {
			bad("%s: want depends_on %s with condition service_healthy (a replica gives up after EVOTOR_PARTNER_DB_CONNECT_TIMEOUT)", name, db)
		}
		if d, err := time.ParseDuration(s.StopGracePeriod); err != nil || d < 25*time.Second {
			bad("%s: stop_grace_period %q: want 25s or more (15 s for the requests in flight, 10 s for forwarding's sends)", name, s.StopGracePeriod)
		}
		if s.Image != cf.Services[receiver].Image {
			bad("%s: image %q, the receiver's is %q: want the one image (it holds both binaries)", name, s.Image, cf.Services[receiver].Image)
		}
	}

	// One PostgreSQL, the one DATABASE_URL names, with the credentials in it.
	if u, err := url.Parse(shared["DATABASE_URL"]); err != nil || u.Scheme != "postgres" {
		bad("DATABASE_URL %q: want postgres://…", shared["DATABASE_URL"])
	} else {
		pg := cf.Services[db].Environment
		pass, _ := u.User.Password()
		if u.Hostname() != db || u.Port() != "5432" || u.User.Username() != pg["POSTGRES_USER"] || pass != pg["POSTGRES_PASSWORD"] ||
			strings.TrimPrefix(u.Path, "/") != pg["POSTGRES_DB"] {
			bad("DATABASE_URL %q does not reach the %s service as its POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB", shared["DATABASE_URL"], db)
		}
	}

	// Forwarding to the receiver: its address, its secret.
	r := cf.Services[receiver]
	for k := range r.Environment {
		if !in.cloudEnv[k] && !deployGoRuntimeEnv[k] {
			bad("%s: %s is not a variable evotor-cloud reads (%s)", receiver, k, deployCloudCmdDir)
		}
	}
	listen := ""
	if i := slices.Index(r.Command, "--listen"); i >= 0 && i+1 < len(r.Command) {
		listen = deployAddrPort(r.Command[i+1])
	}
	if fu, err := url.Parse(shared["EVOTOR_PARTNER_FORWARD_URL"]); err != nil || fu.Hostname() != receiver || fu.Port() != listen {
		bad("EVOTOR_PARTNER_FORWARD_URL %q: want the %s service, which listens on port %s", shared["EVOTOR_PARTNER_FORWARD_URL"], receiver, listen)
	} else if fu.Scheme == "http" && shared["EVOTOR_PARTNER_FORWARD_ALLOW_HTTP"] != "true" {
		bad("EVOTOR_PARTNER_FORWARD_URL %q is http:// to another host: the server refuses it without EVOTOR_PARTNER_FORWARD_ALLOW_HTTP=true", fu)
	}
	if r.Environment["EVOTOR_PARTNER_FORWARD_SECRET"] != shared["EVOTOR_PARTNER_FORWARD_SECRET"] {
		bad("the receiver's EVOTOR_PARTNER_FORWARD_SECRET is not the servers': it would refuse every message")
	}
	if h := r.Healthcheck; h != nil && slices.Contains(h.Test, "--url") {
		if u, err := url.Parse(h.Test[slices.Index(h.Test, "--url")+1]); err != nil || u.Port() != listen {
			bad("%s: the health check's --url is not on the port it listens on (%s)", receiver, listen)
		}
	}
	return problems
}

// parseComposeEnvFile reads KEY=VALUE lines (# comments, blank lines), as compose's --env-file does.
func parseComposeEnvFile(b []byte) (map[string]string, error) {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok || !composeEnvKeyRE.MatchString(k) {
			return nil, fmt.Errorf("line %d: want NAME=value, got %q", line, s)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("line %d: %s twice", line, k)
		}
		m[k] = v
	}
	return m, sc.Err()
}

var (
	composeEnvKeyRE  = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
	deploySecretRE   = regexp.MustCompile(`TOKEN|SECRET|PASSWORD|_KEY$`)
	containerfileCRE = regexp.MustCompile(`\\\n`) // a line continued
)

// deploySecretName: a variable whose value is a secret (never in the repository, always required).
func deploySecretName(name string) bool { return deploySecretRE.MatchString(name) }

type deployImage struct {
	exposed map[string]bool   // "8080"
	env     map[string]string // ENV
}

// parseDeployContainerfile reads the EXPOSE and ENV instructions (continuation lines joined).
func parseDeployContainerfile(b []byte) (deployImage, error) {
	img := deployImage{exposed: map[string]bool{}, env: map[string]string{}}
	text := containerfileCRE.ReplaceAllString(string(b), " ")
	for _, line := range strings.Split(text, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "EXPOSE":
			for _, p := range fields[1:] {
				img.exposed[strings.TrimSuffix(p, "/tcp")] = true
			}
		case "ENV":
			if !strings.Contains(fields[1], "=") { // ENV NAME value
				img.env[fields[1]] = strings.Join(fields[2:], " ")
				continue
			}
			for _, kv := range fields[1:] {
				k, v, _ := strings.Cut(kv, "=")
				img.env[k] = strings.Trim(v, `"`)
			}
		}
	}
	if len(img.exposed) == 0 {
		return img, fmt.Errorf("no EXPOSE")
	}
	return img, nil
}

type composeRef struct{ name, op string }

var composeInterpRE = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// composeInterpolate replaces ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}, $VAR
// and $$ as compose does, taking the values from vars. A required variable that is empty stands
// for itself (<NAME>): the check goes on as if the partner had filled it in.
func composeInterpolate(s string, vars map[string]string) (string, []composeRef, error) {
	var refs []composeRef
	var err error
	out := composeInterpRE.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		g := composeInterpRE.FindStringSubmatch(m)
		name, op, arg := g[1], g[2], g[3]
		if name == "" {
			name = g[4]
		}
		refs = append(refs, composeRef{name, op})
		v, set := vars[name]
		switch op {
		case ":-":
			if v == "" {
				return arg
			}
		case "-":
			if !set {
				return arg
			}
		case ":?", "?":
			if v == "" {
				return "PLACEHOLDER-" + strings.ToLower(strings.ReplaceAll(name, "_", "-"))
			}
		}
		return v
	})
	if strings.Contains(strings.ReplaceAll(s, "$$", ""), "${") && len(refs) == 0 {
		err = fmt.Errorf("%q: an interpolation compose would not understand", s)
	}
	return out, refs, err
}

func composeWalkScalars(n *yaml.Node, f func(*yaml.Node)) {
	if n.Kind == yaml.ScalarNode {
		f(n)
	}
	for _, c := range n.Content {
		composeWalkScalars(c, f)
	}
}

func composeMarshal(n *yaml.Node) []byte {
	b, err := yaml.Marshal(n)
	if err != nil {
		panic(err)
	}
	return b
}

// deployAddrPort is the port of host:port (":8080" → "8080").
func deployAddrPort(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return port
}

// composeParsePort reads compose's short syntax, [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL].
func composeParsePort(spec string) (hostIP, hostPort, target string, err error) {
	spec = strings.TrimSuffix(spec, "/tcp")
	parts := strings.Split(spec, ":")
	switch len(parts) {
	case 1:
		target = parts[0]
	case 2:
		hostPort, target = parts[0], parts[1]
	case 3:
		hostIP, hostPort, target = parts[0], parts[1], parts[2]
	default:
		return "", "", "", fmt.Errorf("want [HOST_IP:][HOST_PORT:]PORT")
	}
	if _, err := strconv.Atoi(target); err != nil {
		return "", "", "", fmt.Errorf("container port %q", target)
	}
	return hostIP, hostPort, target, nil
}

func deployIsLoopback(ip string) bool {
	parsed := net.ParseIP(strings.Trim(ip, "[]"))
	return parsed != nil && parsed.IsLoopback()
}
