# Portcullis. On a fresh machine, two commands matter:
#   make demo   audit the embedded demo estate (no cloud account needed)
#   make test   the whole suite (installs what it needs: Go modules, moto)
# and before a merge, `make lint` (golangci-lint, built from tools/go.mod).

GO      ?= go
BIN     ?= bin/portcullis
OUT     ?= out
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# moto 5.x provides moto_server, the AWS stand-in of the integration tests.
MOTO    ?= moto[server]>=5.0,<6
# golangci-lint's version (and its dependencies') is pinned in tools/go.mod;
# it is built from source through the Go module proxy.
GOLANGCI_LINT := bin/golangci-lint
GOVULNCHECK_VERSION ?= v1.9.0

.PHONY: all build demo test deps moto chromium vet lint cfn-lint vuln bench fuzz lambda lambda-weight clean

all: build

build: deps
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/portcullis

demo: build
	@mkdir -p $(OUT)
	./$(BIN) demo --json $(OUT)/portcullis-demo.json --html $(OUT)/portcullis-demo.html

deps:
	$(GO) mod download

# moto_server is installed with pip only where it is missing.
moto:
	@command -v moto_server >/dev/null 2>&1 || { \
		echo "moto_server not found: installing $(MOTO) with pip"; \
		python3 -m pip install --quiet '$(MOTO)' || { echo "could not install moto: the AWS integration tests need moto_server on PATH" >&2; exit 1; }; }
	@command -v moto_server >/dev/null 2>&1 || { echo "moto_server is still not on PATH (pip's script directory?)" >&2; exit 1; }

vet: deps
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

# The whole suite under the race detector: collectors, the prober and the
# Lambda stages are concurrent.
test: deps moto chromium vet
	AWS_EC2_METADATA_DISABLED=true $(GO) test -race -count=1 -timeout 20m ./...
	@$(MAKE) --no-print-directory cfn-lint

# The SAM templates. Optional on a laptop, required in CI (CI=true).
cfn-lint:
	@if command -v cfn-lint >/dev/null 2>&1; then cfn-lint infra/template.yaml infra/member-role.yaml; \
	elif [ "$$CI" = true ]; then echo "cfn-lint not installed: CI requires it (pip install cfn-lint)" >&2; exit 1; \
	else echo "cfn-lint not installed: templates not linted (pip install cfn-lint)"; fi

$(GOLANGCI_LINT): tools/go.mod tools/go.sum
	$(GO) -C tools build -o ../$(GOLANGCI_LINT) github.com/golangci/golangci-lint/v2/cmd/golangci-lint

# golangci-lint with .golangci.yml; the import rules are also a test
# (internal/archtest), which `make test` runs.
lint: deps $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run ./...

# Known vulnerabilities in the dependencies and the standard library.
# govulncheck reads its database from vuln.go.dev, which this project's
# machines (and so CI) cannot reach: run it where that host is reachable,
# or point it at a local copy with GOVULNCHECK_FLAGS='-db file:///path'.
vuln:
	$(GO) run golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) $(GOVULNCHECK_FLAGS) ./...

# Benchmarks: the whole audit (read → normalize → analyze → evaluate →
# write, per format) on synthetic AWS snapshots of 1k/10k/100k interfaces
# beside a rule-by-rule scan of the same files (it ends with the table of
# docs/benchmarks.md), the analysis alone at 1k/10k/100k interfaces (one
# core), the provider normalizers, and the prober against nmap on loopback.
bench: deps
	$(GO) test -c -o bin/portcullis.test ./cmd/portcullis
	bin/portcullis.test -test.run '^$$' -test.bench 'AuditEndToEnd' -test.benchtime 1x -test.timeout 120m
	/usr/bin/time -f 'peak RSS of the 100k-interface audit --format json (estate generation included): %M KiB' \
		bin/portcullis.test -test.run '^$$' -test.bench 'AuditEndToEnd/interfaces=100k/format=json$$' -test.benchtime 1x -test.timeout 60m
	$(GO) test -c -o bin/exposure.test ./exposure
	GOMAXPROCS=1 bin/exposure.test -test.run '^$$' -test.bench 'Analyze|RuleScanBaseline' -test.benchmem -test.benchtime 3x -test.timeout 60m
	GOMAXPROCS=1 /usr/bin/time -f 'peak RSS of the 100k-interface analysis (estate included): %M KiB' \
		bin/exposure.test -test.run '^$$' -test.bench 'BenchmarkAnalyze$$/interfaces=100000' -test.benchtime 1x
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x ./providers/gcp ./providers/azure ./rules ./reports
	scripts/bench-probe.sh
	$(GO) test -c -o bin/orgsim.test ./functions/internal/orgsim
	bin/orgsim.test -test.run '^$$' -test.bench 'OrgCollect' -test.benchtime 3x -test.timeout 10m
	bin/orgsim.test -test.run '^$$' -test.bench 'OrgReport' -test.benchtime 1x -test.timeout 30m -test.v

# Fuzzing: each target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz: deps
	@for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for f in $$(grep -h '^func Fuzz' $$pkg/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# Lambda binaries (provided.al2023, arm64 and amd64).
lambda: deps
	@for fn in $$(cd functions && ls */main.go | xargs -n1 dirname); do for arch in arm64 amd64; do \
		mkdir -p bin/lambda/$$arch/$$fn; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -tags lambda.norpc -ldflags '$(LDFLAGS)' -o bin/lambda/$$arch/$$fn/bootstrap ./functions/$$fn; \
	done; done

# Each function's weight (docs/deployment.md, "Function weight"): packages
# linked, then binary size and init time of the amd64 builds (this
# machine's architecture) against a loopback Lambda Runtime API. Not part
# of bench: it needs the cross builds of `make lambda`.
lambda-weight: lambda
	@for fn in $$(cd functions && ls */main.go | xargs -n1 dirname); do \
		echo "$$fn: $$($(GO) list -tags lambda.norpc -deps ./functions/$$fn | wc -l) packages, arm64 $$(stat -c %s bin/lambda/arm64/$$fn/bootstrap) bytes"; \
	done
	$(GO) run ./scripts/lambda-coldstart -n 15 bin/lambda/amd64/*/bootstrap

clean:
	rm -rf bin $(OUT)

# Debian's chromium, for the HTML report's browser test (reports/browser_test.go):
# installed with apt-get where it is missing; the test skips, saying so, without it.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || { \
		echo "chromium not found at $(CHROMIUM): installing Debian's chromium package for the HTML browser test"; \
		if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
		{ $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; } || \
		echo "could not install chromium (apt-get failed: no root, no network or not Debian): the HTML browser test will be skipped" >&2; }
