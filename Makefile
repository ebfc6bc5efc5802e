# wxcloudenv: build, test, run and package. Needs Go (the version in go.mod),
# a C compiler for the race detector, and Node.js 20+ with npm; `make test`
# installs the rest itself when missing (scripts/test-deps.sh).
#
#   make run        one invocation locally against the built-in WeChat emulator (10-25 s the first time, then 2 s)
#   make test       gofmt, vet and golangci-lint, then every test with the race detector (5-7 min)
#   make lint       golangci-lint (v2, pinned; installed into bin/ like the RIE)
#   make rie        the function under the AWS Lambda Runtime Interface Emulator
#   make package    dist/aws-lambda.zip (arm64) and dist/tencent-scf.zip (amd64)
#   make help       every target

GO       ?= go
DIST     ?= dist
BIN      ?= bin
FUZZTIME ?= 30s
BENCHCOUNT ?= 5
# The queued fleet's benchmark (100,000 authorizers, goaws, nine built
# functions) takes about a minute and a half a run: once by default.
QUEUECOUNT ?= 1
EVENT    ?= events/direct.json
LDFLAGS  := -s -w
RIE_ADDR ?= 127.0.0.1:9000
# The AWS Lambda Runtime Interface Emulator (what `sam local` runs in its
# container); the module has no tags, so it is pinned by its pseudo-version.
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
RIE_MODULE  := github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
# golangci-lint, pinned like the RIE; .golangci.yml says what it checks.
GOLANGCI_VERSION := v2.15.0
GOLANGCI_MODULE  := github.com/golangci/golangci-lint/v2/cmd/golangci-lint
# goaws, the SQS-compatible server the queued-fleet tests run on loopback:
# v0.5.4 is the first that speaks the JSON protocol of aws-sdk-go-v2's
# current SQS client (docs/queue.md says why this one).
GOAWS_VERSION := v0.5.4
GOAWS_MODULE  := github.com/Admiral-Piett/goaws/app/cmd
GOBUILD  := CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)"

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_%-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-24s %s\n", $$1, $$2}'

# Quiet (@): standard output is the answer alone, so `make run | jq` works.
.PHONY: run
run: ## one invocation against the built-in WeChat emulator (scenario demo: one alert); ARGS="-fault getenvinfo=errcode:40001" etc.
	@$(GO) run ./functions/local -emulate $(ARGS)

STATUS_ADDR ?= 127.0.0.1:8080
CHROMIUM    ?= chromium

.PHONY: status
status: ## the status page (docs/status-page.md) on STATUS_ADDR (127.0.0.1:8080) over the emulated fleet, a run a minute; STORE=file:///abs/path keeps it
	$(GO) run ./functions/local -emulate -scenario fleet -runs 3 -every 1m $(if $(STORE),-store $(STORE)) -status $(STATUS_ADDR) $(ARGS)

.PHONY: status-screenshot
status-screenshot: ## redraw docs/status-page.png from the golden demo page (needs chromium: apt-get install -y chromium)
	@command -v $(CHROMIUM) >/dev/null || { echo "chromium is missing: apt-get install -y chromium (or CHROMIUM=/path/to/chrome)" >&2; exit 1; }
	$(GO) test -count=1 -run '^TestDemoPage$$' ./internal/status
	$(CHROMIUM) --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync \
		--no-first-run --user-data-dir=$$(mktemp -d) --hide-scrollbars --window-size=1280,1900 \
		--screenshot=$(CURDIR)/docs/status-page.png file://$(CURDIR)/internal/status/testdata/demo.html

# Reinstalled when the Makefile (and so RIE_VERSION) changes.
$(BIN)/aws-lambda-rie: Makefile
	GOBIN=$(CURDIR)/$(BIN) $(GO) install $(RIE_MODULE)@$(RIE_VERSION)

# Reinstalled when the Makefile (and so GOAWS_VERSION) changes. The module
# builds a command named "cmd": installed into a scratch directory, renamed.
$(BIN)/goaws: Makefile
	@mkdir -p $(BIN)/.goaws
	GOBIN=$(CURDIR)/$(BIN)/.goaws $(GO) install $(GOAWS_MODULE)@$(GOAWS_VERSION)
	mv $(BIN)/.goaws/cmd $(BIN)/goaws && rmdir $(BIN)/.goaws

# The runner is built, then run in place of the recipe's shell (exec): make
# passes a SIGTERM on to it, Ctrl-C reaches it, and it stops the emulator
# and the bootstrap with it.
.PHONY: rie
rie: $(BIN)/aws-lambda-rie ## a Docker-free `sam local`: bin/bootstrap under the Runtime Interface Emulator on RIE_ADDR (127.0.0.1:9000), WeChat emulated (EMULATE=0: real); stops on Ctrl-C or kill
	@mkdir -p $(BIN)
	$(GOBUILD) -tags lambda.norpc -o $(BIN)/bootstrap ./functions/aws-lambda
	$(GO) build -o $(BIN)/local ./functions/local
	exec $(BIN)/local $(if $(filter 0,$(EMULATE)),,-emulate) -serve $(RIE_ADDR) -rie $(BIN)/aws-lambda-rie -bootstrap $(BIN)/bootstrap $(ARGS)

.PHONY: invoke
invoke: ## replay EVENT=file (default events/direct.json); EMULATE=0 calls the real WeChat; RIE=1 posts it to a running `make rie`
ifeq ($(RIE),1)
	@curl -sS --fail-with-body -d @$(EVENT) http://$(RIE_ADDR)/2015-03-31/functions/function/invocations; echo
else
	@$(GO) run ./functions/local $(if $(filter 0,$(EMULATE)),,-emulate) -event $(EVENT) $(ARGS)
endif

# What the tests need beyond Go and gcc, each installed only when missing:
# redis-server and chromium (apt), dynalite (npm ci).
.PHONY: test-deps
test-deps: ## install what make test needs when missing: redis-server, chromium (apt), dynalite (npm ci)
	@scripts/test-deps.sh

# Reinstalled when the Makefile (and so GOLANGCI_VERSION) changes.
$(BIN)/golangci-lint: Makefile
	GOBIN=$(CURDIR)/$(BIN) $(GO) install $(GOLANGCI_MODULE)@$(GOLANGCI_VERSION)

.PHONY: lint
lint: $(BIN)/golangci-lint ## golangci-lint run with .golangci.yml (installs the pinned version into bin/ first)
	$(BIN)/golangci-lint run ./...

.PHONY: test
test: test-deps $(BIN)/aws-lambda-rie $(BIN)/goaws $(BIN)/golangci-lint ## gofmt, vet and golangci-lint, then every test (fuzz seeds included) with the race detector (5-7 min); needs a C compiler
	@files=$$(gofmt -l .); if [ -n "$$files" ]; then echo "not gofmt-ed: $$files"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/golangci-lint run ./...
	CGO_ENABLED=1 $(GO) test -race -count=1 ./...

.PHONY: build
build: ## build every package, and bin/bootstrap and bin/main for this machine (run them with make rie / on SCF, not by hand)
	$(GO) build ./...
	$(GOBUILD) -tags lambda.norpc -o $(BIN)/bootstrap ./functions/aws-lambda
	$(GOBUILD) -o $(BIN)/main ./functions/tencent-scf

.PHONY: package
package: ## dist/aws-lambda.zip (bootstrap, linux/arm64) and dist/tencent-scf.zip (main, linux/amd64)
	@mkdir -p $(DIST)/aws-lambda $(DIST)/scf
	GOOS=linux GOARCH=arm64 $(GOBUILD) -tags lambda.norpc -o $(DIST)/aws-lambda/bootstrap ./functions/aws-lambda
	GOOS=linux GOARCH=amd64 $(GOBUILD) -o $(DIST)/scf/main ./functions/tencent-scf
	$(GO) run ./tools/mkzip -o $(DIST)/aws-lambda.zip bootstrap=$(DIST)/aws-lambda/bootstrap
	$(GO) run ./tools/mkzip -o $(DIST)/tencent-scf.zip main=$(DIST)/scf/main
	@ls -l $(DIST)/*.zip

# Variables `scf deploy` must not deploy empty: the API key (the Function URL
# is public) and at least one WeChat credential (SCF_CREDENTIALS).
SCF_REQUIRED    := WXCLOUDENV_API_KEY
SCF_CREDENTIALS := WECHAT_ACCESS_TOKEN WECHAT_COMPONENT_ACCESS_TOKEN WECHAT_COMPONENT_APPSECRET WECHAT_AUTHORIZER_REFRESH_TOKEN WECHAT_APPSECRET WXCLOUDENV_TOKEN_LAYOUT

.PHONY: check-scf-env
check-scf-env: ## fail when a variable serverless.yml needs is unset (reads .env like the scf CLI)
	@set -a; [ ! -f .env ] || . ./.env; set +a; \
	missing=""; for v in $(SCF_REQUIRED); do [ -n "$$(printenv $$v)" ] || missing="$$missing $$v"; done; \
	cred=""; for v in $(SCF_CREDENTIALS); do [ -z "$$(printenv $$v)" ] || cred=$$v; done; \
	[ -n "$$cred" ] || missing="$$missing one-of($(SCF_CREDENTIALS))"; \
	if [ -n "$$missing" ]; then echo "not set (export them or put them in .env):$$missing" >&2; exit 1; fi; \
	echo "serverless.yml variables: ok"

.PHONY: deploy-scf
deploy-scf: check-scf-env package ## check the variables, package, and `scf deploy` (serverless-cloud-framework)
	scf deploy

.PHONY: deploy-aws
deploy-aws: ## sam build, then sam deploy --guided (asks for AlertEmail and the WeChat parameters)
	sam build
	sam deploy --guided

.PHONY: lint-deploy
lint-deploy: ## cfn-lint template.yaml, informational rules included; prints nothing when clean (optional tool: pip install cfn-lint; make test checks the template without it)
	@command -v cfn-lint >/dev/null 2>&1 || { echo "cfn-lint is not installed: pip install cfn-lint" >&2; exit 1; }
	@cfn-lint --include-checks I -- template.yaml

# AWS SAM's makefile build method runs `make build-<LogicalId>` in a copy of
# CodeUri and expects the binary in $(ARTIFACTS_DIR).
.PHONY: build-WxCloudEnvFunction
build-WxCloudEnvFunction: # what `sam build` calls (not listed by make help: SAM sets ARTIFACTS_DIR)
	@test -n "$(ARTIFACTS_DIR)" || { echo "build-WxCloudEnvFunction is for sam build, which sets ARTIFACTS_DIR; use make package" >&2; exit 2; }
	GOOS=linux GOARCH=arm64 $(GOBUILD) -tags lambda.norpc -o $(ARTIFACTS_DIR)/bootstrap ./functions/aws-lambda

.PHONY: bench
bench: SHELL := /bin/bash
bench: $(BIN)/goaws
bench: ## benchmarks beside their baseline, BENCHCOUNT runs each; prints medians and ratios (raw output: bin/bench.txt); about 9 min with BENCHCOUNT=5
	@mkdir -p $(BIN)
	@echo "make bench: about 9 minutes with BENCHCOUNT=5 (now $(BENCHCOUNT)) and the queued fleet once (QUEUECOUNT=$(QUEUECOUNT)); the ratios print at the end" >&2
	set -o pipefail; $(GO) test -run '^$$' -bench '^Benchmark[^Q]' -benchmem -count=$(BENCHCOUNT) ./test/bench ./internal/status ./pkg/... | tee $(BIN)/bench.txt
	set -o pipefail; $(GO) test -run '^$$' -bench '^BenchmarkQueued' -benchtime 1x -count=$(QUEUECOUNT) ./test/bench | tee -a $(BIN)/bench.txt
	$(GO) run ./tools/benchreport $(BIN)/bench.txt

.PHONY: fuzz
# Every fuzz target, as package:Target.
FUZZ_TARGETS := internal/trigger:FuzzParse internal/trigger:FuzzParsePayload internal/trigger:FuzzParseQuery \
	internal/invoke:FuzzInvoke internal/invoke:FuzzRouting pkg/wechat:FuzzCheckAnswer pkg/wechat:FuzzMintAnswer pkg/wechat:FuzzEncodedForms \
	pkg/wechat/internal/scan:FuzzScan pkg/wechat/internal/scan:FuzzStreamedScan internal/authevent:FuzzEnvelope internal/authevent:FuzzDecrypt \
	internal/notify:FuzzRender internal/trunc:FuzzCut internal/emf:FuzzValidate internal/store:FuzzCodec internal/store:FuzzRedactedHidesPassword \
	internal/robots:FuzzBody internal/silence:FuzzParse

fuzz: ## run every fuzz target for FUZZTIME each (default 30s: 18 targets, about 12 min)
	@echo "make fuzz: $(words $(FUZZ_TARGETS)) targets, $(FUZZTIME) each plus about 10 s to build each" >&2
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== $$t"; $(GO) test ./$${t%%:*} -run '^$$' -fuzz "^$${t##*:}\$$" -fuzztime $(FUZZTIME); \
	done

.PHONY: fmt
fmt: ## gofmt every file
	gofmt -w .

.PHONY: clean
clean: ## remove build outputs
	rm -rf $(BIN) $(DIST) .aws-sam
