# evotor-partner — every command a developer or CI needs.
GO ?= go

.PHONY: run test test-short test-postgres generate check-generated vet lint bench bench-load bench-drain bench-hostile

## run: the server on the embedded SQLite file in ./data; without configured credentials it
## keeps a development app token in ./data/dev-app-token and shows it on first run.
run:
	EVOTOR_PARTNER_DEV_APP_TOKEN=1 $(GO) run ./cmd/evotor-partner serve

## test: every test; the database suite runs on SQLite, and on PostgreSQL too when
## TEST_DATABASE_URL is set (test-postgres sets it).
test:
	$(GO) test -count=1 ./...

## test-short: the quick loop (under a minute): every package's unit and contract tests;
## the process-level, browser, kill and load tests skip under -short.
test-short:
	$(GO) test -short -count=1 ./...

## test-postgres: the same, with a throw-away PostgreSQL started and stopped around it (its
## binaries found on PATH, by pg_config or in /usr/lib/postgresql; PGBIN=dir overrides).
test-postgres:
	.ci/with-postgres $(MAKE) test

## generate: openapi/openapi.yaml → generated/, and openapi/evotor-rest.yaml (Evotor's own REST
## API, as we call it) → generated/evotorrest/ (oapi-codegen, pinned in go.mod as a tool).
generate:
	$(GO) tool oapi-codegen -config oapi-codegen.yaml openapi/openapi.yaml
	$(GO) tool oapi-codegen -config oapi-codegen-evotor-rest.yaml openapi/evotor-rest.yaml

## check-generated: fails when generated/ is not what the spec generates.
check-generated: generate
	@git diff --exit-code --stat -- generated/ || { echo "generated/ is stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- generated/)" || { echo "untracked files in generated/"; exit 1; }

## vet: gofmt and go vet.
vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '^generated/'))" || { gofmt -l .; echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

## lint: the spec against Redocly's recommended rules and ours (redocly.yaml: every operation,
## schema and property described); @redocly/cli pinned.
lint:
	npx --yes @redocly/cli@2.77.0 lint openapi/openapi.yaml openapi/evotor-rest.yaml

## image: the container image (Containerfile) with podman, tagged $(IMAGE) (nothing is pulled):
## evotor-partner and evotor-cloud built static here (CGO_ENABLED=0, -trimpath), this machine's
## CA bundle and time-zone data, a non-root user (65532), on an empty base; its labels carry the
## module version and VCS revision the binaries were built from. Needs podman (apt-get install
## podman); .ci/image-check unpacks it and runs the server from it.
IMAGE ?= evotor-partner:latest
.PHONY: image
image:
	rm -rf bin/image && mkdir -p bin/image/base/etc/ssl/certs bin/image/base/usr/share bin/image/base/tmp bin/image/data/evotor-partner
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=auto -ldflags='-s -w' -o bin/image/bin/ ./cmd/evotor-partner ./cmd/evotor-cloud
	cp /etc/ssl/certs/ca-certificates.crt bin/image/base/etc/ssl/certs/ && cp -a /usr/share/zoneinfo bin/image/base/usr/share/ \
	  || { echo "image: needs the CA bundle and time-zone data (apt-get install ca-certificates tzdata)"; exit 1; }
	printf '%s\n' root:x:0:0:root:/root:/sbin/nologin nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin \
	  nonroot:x:65532:65532:nonroot:/var/lib/evotor-partner:/sbin/nologin >bin/image/base/etc/passwd
	printf '%s\n' root:x:0: nobody:x:65534: nonroot:x:65532: >bin/image/base/etc/group
	chmod -R u=rwX,go=rX bin/image/base bin/image/bin && chmod 1777 bin/image/base/tmp && chmod 700 bin/image/data/evotor-partner
	ver=$$($(GO) version -m bin/image/bin/evotor-partner | awk '$$1 == "mod" {print $$3}'); \
	rev=$$($(GO) version -m bin/image/bin/evotor-partner | awk -F= '$$1 ~ /vcs.revision$$/ {print $$2}'); \
	podman build --format docker -f Containerfile -t $(IMAGE) --build-arg VERSION="$${ver:-unknown}" \
	  --build-arg REVISION="$${rev:-unknown}" --build-arg CREATED="$$(date -u +%Y-%m-%dT%H:%M:%SZ)" bin/image

## bench: the Go benchmarks (add TEST_DATABASE_URL for the PostgreSQL ones).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## bench-load: the performance goals, measured (a few minutes; CI does not run it): our server
## binary and bare baselines (echo + pgx INSERT, echo + GORM on SQLite) under a closed loop and
## `evotor-cloud load`, the 10 MB catalogue against the COPY floor, the validator benchmark; one
## table of figures and PASS/FAIL per goal. A throw-away PostgreSQL is started around it.
## Flags through BENCH_LOAD_FLAGS (e.g. -strict, -closed 20s; `go run ./tests/loadbench -h`).
bench-load:
	.ci/with-postgres $(GO) run ./tests/loadbench $(BENCH_LOAD_FLAGS)

## bench-drain: forwarding's pace (under a minute): one user's backlog of 1,000 messages sent to
## a local receiver, msgs/s on SQLite and PostgreSQL, beside a bare loop POSTing the same bodies
## to the same receiver (bare-msgs/s), in the same run; the goal is >= 200 msgs/s.
bench-drain:
	.ci/with-postgres $(GO) test ./tests -run '^$$' -bench BacklogDrain -benchtime 1x -count 2

## bench-hostile: memory under hostile bodies (about a minute; SQLite, no PostgreSQL): each shape
## (a long array of scalars, deep nesting, one huge string, many keys, a catalogue) at its
## operation's largest size and just over it, and 8 large bodies at once, sent to a fresh
## evotor-partner and to a bare echo server that only holds the body; peak RSS growth of each,
## PASS/FAIL per row against 256 MiB. Flags through BENCH_HOSTILE_FLAGS (e.g. -strict).
bench-hostile:
	$(GO) run ./tests/loadbench -hostile $(BENCH_HOSTILE_FLAGS)

## soak: the evotor mix (`evotor-cloud load --mix evotor`: receipts, small and large product
## batches, documents, inventory lists, subscription and installation events, re-sends and
## duplicates in Evotor's proportions; 5 users × 4 stores that grow) at 200/s for 10 minutes on
## SQLite, then on PostgreSQL (a throw-away one is started), each from a database with a past
## (60,000 requests of the mix first, untimed), forwarding on to a receiver in the harness: a
## table every minute and at the end, a plot of p99 and RSS (SVG), PASS/FAIL per goal;
## PostgreSQL's own log (checkpoints, autovacuum, lock waits) is kept beside them. PostgreSQL
## runs with its defaults but for wal_compression=lz4, as deploy/compose.yaml runs it (README:
## Soak). About 27 minutes; CI does not run it. Flags through SOAK_FLAGS (e.g. -strict,
## -duration 2m, -rate 50, -db sqlite; `go run ./tests/loadbench soak -h`).
.PHONY: soak
soak:
	PG_EXTRA_OPTIONS="-c wal_compression=lz4 -c log_autovacuum_min_duration=0 -c log_lock_waits=on" \
		.ci/with-postgres $(GO) run ./tests/loadbench soak $(SOAK_FLAGS)
