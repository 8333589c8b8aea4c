# custody — build, test and run. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

FUNCTIONS := $(notdir $(patsubst %/main.go,%,$(wildcard functions/*/main.go)))
DIST      := dist/functions
OUT       ?= out
CDK       := node_modules/.bin/cdk
GO_LDFLAGS := -s -w
# The operator command, built so its documented exit codes reach the shell
# (go run reports every failure as 1).
CUSTODY   := dist/bin/custody
# Every package of the module. node_modules holds Go templates of the CDK
# CLI; package.json's postinstall writes node_modules/go.mod, which makes
# it a module of its own that ./... does not enter.
GO_PKGS   := ./...

.PHONY: help deps deps-local build bench fuzz FORCE test unit deploy-local demo demo-org investigate verify synth preflight readiness diff deploy lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

deps: ## install what a fresh clone needs to build and deploy (Go modules, npm tools); fail naming what cannot be installed here
	@command -v go >/dev/null || { echo "go not found: install Go 1.26 (https://go.dev/dl)"; exit 2; }
	@command -v node >/dev/null || { echo "node not found: install it with: apt-get install nodejs npm"; exit 2; }
	@if [ ! -f node_modules/.package-lock.json ] || [ ! -f node_modules/go.mod ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
		echo "npm ci"; npm ci --no-audit --no-fund; fi
	@go mod download

deps-local: deps ## also what the local run and the tests need: the emulator and cfn-lint (PyPI: checked, not installed), Chromium (installed from Debian when missing)
	@command -v moto_server >/dev/null || { echo "moto_server not found: install it with: pip install 'moto[server]'"; exit 2; }
	@command -v cfn-lint >/dev/null || { echo "cfn-lint not found: install it with: pip install cfn-lint"; exit 2; }
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "apt-get install -y chromium (the report test renders report.html in it)"; \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
				|| { echo "chromium install failed: install it with: apt-get install -y chromium"; exit 2; }; \
		else echo "chromium not found: install it with: apt-get install -y chromium"; exit 2; fi; \
	fi

build: ## every function to dist/functions/<name>/bootstrap (linux/arm64, static, stripped)
	@for f in $(FUNCTIONS); do \
		mkdir -p $(DIST)/$$f; \
		GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags='$(GO_LDFLAGS)' -o $(DIST)/$$f/bootstrap ./functions/$$f; \
		echo "built $(DIST)/$$f/bootstrap"; \
	done

test: deps-local build ## every test: unit, emulator-backed, infra (synth, assertions, nag, cfn-lint), the deploy check, the demo end to end
	go vet $(GO_PKGS)
	go test -count=1 -timeout 40m $(GO_PKGS)
	$(MAKE) --no-print-directory deploy-local

unit: deps-local ## the Go tests only
	go test -count=1 $(GO_PKGS)

$(CUSTODY): FORCE
	@go build -o $@ ./cmd/custody

FORCE:

deploy-local: deps-local $(CUSTODY) ## cdk bootstrap + cdk deploy into a fresh emulator, check the wiring, cdk destroy
	$(CUSTODY) deploy-check

# The fault drill: FAULTS=0.2 answers that fraction of the handlers' calls
# with a fault (FAULTS_SEED picks which; the default seed is fixed).
FAULT_FLAGS = $(if $(FAULTS),-faults $(FAULTS)) $(if $(FAULTS_SEED),-faults-seed $(FAULTS_SEED))

demo: deps-local $(CUSTODY) ## [FAULTS=<rate>] [FAULTS_SEED=<n>]: the demo, a compromised-instance scenario, end to end on the emulator; case in $(OUT)/
	$(CUSTODY) demo -out $(OUT) $(FAULT_FLAGS)

demo-org: deps-local $(CUSTODY) ## [FAULTS=<rate>]: the organization drill: hub, two member accounts (one without the member stack), a log archive, two regions; cases in $(OUT)/
	$(CUSTODY) demo-org -out $(OUT) $(FAULT_FLAGS)

investigate: deps-local $(CUSTODY) ## FINDING=<file> [SEED=<dir>] [OUT=<dir>] [FAULTS=<rate>]: the same for any input and seed folder
	@[ -n "$(FINDING)" ] || { echo "usage: make investigate FINDING=<file> [SEED=<dir>] [OUT=<dir>] [FAULTS=<rate>] [FAULTS_SEED=<n>]"; exit 1; }
	$(CUSTODY) investigate -finding "$(FINDING)" $(if $(SEED),-seed "$(SEED)") -out "$(OUT)" $(FAULT_FLAGS)

verify: $(CUSTODY) ## CASE=<dir or s3://bucket/cases/<caseId>>: re-check every artifact of a case against its manifests
	@[ -n "$(CASE)" ] || { echo "usage: make verify CASE=<dir or s3://bucket/cases/<caseId>>"; exit 1; }
	$(CUSTODY) verify "$(CASE)"

bench: deps-local $(CUSTODY) ## benchmarks (not part of make test): the timeline build at ~200k and ~2M events; the log extracts against gzip -dc, jq and grep at ~100 MB and ~1 GB; the demo's finding-to-sealed time split into deploy and workflow [CORPUS=<dir>]
	go test -run '^$$' -bench . -benchtime 1x -timeout 60m ./shared/timeline/
	@command -v jq >/dev/null || { echo "jq not found: install it with: apt-get install -y jq"; exit 2; }
	go run ./cmd/custody-bench $(if $(CORPUS),-corpus "$(CORPUS)") -demo $(CUSTODY)

# How long each fuzz target runs in make fuzz.
FUZZTIME ?= 1m

# Every fuzz target, one after another, FUZZTIME each. Go 1.26's fuzz
# coordinator can end a target at its deadline with a bare "context deadline
# exceeded" and no failing input (golang/go#75804, fixed in Go 1.27): such an
# end is reported as a flake; a target fails when it writes a failing input
# under testdata/fuzz/<target>/ (commit it: it then runs in make test).
fuzz: deps-local ## every fuzz target, FUZZTIME each (default 1m), one after another [FUZZTIME=15s]
	@failed=""; flaked=""; n=0; \
	inputs() { if [ -d "$$1" ]; then ls "$$1" | wc -l; else echo 0; fi; }; \
	for file in $$(grep -rl --include='*_test.go' '^func Fuzz' shared functions cmd infra | sort); do \
		dir=$$(dirname $$file); \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(f \*testing.F).*/\1/p' $$file); do \
			n=$$((n+1)); echo "==> $$t ./$$dir/ ($(FUZZTIME))"; \
			before=$$(inputs $$dir/testdata/fuzz/$$t); \
			if out=$$(go test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -parallel 1 ./$$dir/ 2>&1); then \
				tail -n 2 <<< "$$out"; \
			elif [ "$$(inputs $$dir/testdata/fuzz/$$t)" = "$$before" ] && grep -q 'context deadline exceeded' <<< "$$out" \
				&& ! grep -q 'Failing input written' <<< "$$out"; then \
				tail -n 3 <<< "$$out"; echo "    flake: the fuzz coordinator's deadline (golang/go#75804), no failing input"; flaked="$$flaked $$t"; \
			else \
				tail -n 30 <<< "$$out"; failed="$$failed $$t"; \
			fi; \
		done; \
	done; \
	echo "fuzz: $$n targets, $(FUZZTIME) each; failed:$${failed:- none}; deadline flakes:$${flaked:- none}"; \
	[ -z "$$failed" ]

synth: deps build ## cdk synth (cdk-nag runs at every synth)
	$(CDK) synth

preflight: $(CUSTODY) ## name the account, caller and region of your AWS profile; fail when no credentials are set (diff and deploy run it first)
	$(CUSTODY) preflight

readiness: $(CUSTODY) ## audit the account of your AWS profile for the sources custody collects [ARGS="-regions eu-west-1,us-east-1 -json"]
	$(CUSTODY) readiness $(ARGS)

diff: deps preflight build ## cdk diff against the account in your AWS profile
	$(CDK) diff

deploy: deps preflight build ## cdk deploy of the hub (Custody) into the account in your AWS profile; the member and forwarder stacks: README, Organizations
	$(CDK) deploy Custody

lint: deps ## gofmt, go vet, staticcheck (pinned as a Go tool)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	go vet $(GO_PKGS)
	go tool staticcheck $(GO_PKGS)

clean: ## remove build output and local cases
	rm -rf dist cdk.out $(OUT)
