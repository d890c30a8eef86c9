# unbundled - every command in the README is a target here.
#
#   make run     start the local server (embedded SQLite, local mailbox)
#   make test    install pinned tools on first use, then run every check and test
#   make unit    the Go-only tests (go test -short): no emulator, Python or Node
#   make attack  the attack suite against the local server; prints a table
#   make fuzz    every fuzz target for FUZZTIME (default 20s) each
#   make screenshots  regenerate the README's screenshots (docs/screenshots) from the browser tests
#
# Lambda bootstraps: `sam build` calls build-<LogicalId> with ARTIFACTS_DIR set.
# ARCH picks the CPU for sam build (template parameter Architecture) and the
# matching GOARCH; tests build for this machine with the same targets.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
TOOLS     := $(CURDIR)/.tools
SAM       := $(TOOLS)/venv/bin/sam
ARCH      ?= arm64
GOARCH_arm64  := arm64
GOARCH_x86_64 := amd64
GOARCH    ?= $(GOARCH_$(ARCH))
MAGNETS   ?= infra/local/magnets.json
FUZZTIME  ?= 20s
# package:FuzzTarget pairs `make fuzz` runs (seed corpora in each package's testdata/fuzz).
FUZZ_TARGETS := shared/consent:FuzzNormaliseAddress shared/consent:FuzzCheckName \
	shared/web:FuzzDecodeSignup shared/token:FuzzVerify
HOST_ARCH := $(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x86_64)

export SAM_CLI_TELEMETRY := 0
export GOFLAGS := -buildvcs=false

.PHONY: help run test tools check unit attack fuzz screenshots sam-validate sam-build bench deploy clean \
	build-SignupFunction build-UnsubscribeFunction build-ConfirmFunction \
	build-DeliverFunction build-SweepFunction build-FeedbackFunction build-AdminFunction \
	build-RetentionFunction

help: ## list targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

run: ## start the local server on http://127.0.0.1:8080 (data in ./data)
	$(GO) run ./infra/local

test: tools check sam-validate ## everything: lint, unit, conformance, emulator, runtime-emulator and attack tests, fuzzing
	$(MAKE) sam-build ARCH=$(HOST_ARCH)
	rm -rf .aws-sam/attack-report.txt .aws-sam/screenshots
	UNBUNDLED_SAM_BUILD_DIR=$(CURDIR)/.aws-sam/build UNBUNDLED_RIE_REPORT=$(CURDIR)/.aws-sam/rie-report.txt \
		UNBUNDLED_ATTACK_REPORT=$(CURDIR)/.aws-sam/attack-report.txt UNBUNDLED_SCREENSHOTS=$(CURDIR)/.aws-sam/screenshots \
		$(GO) test -race -count=1 -timeout 20m ./...
	@cat .aws-sam/rie-report.txt .aws-sam/attack-report.txt
	$(MAKE) fuzz

attack: ## the attack suite against the local server (SQLite and the DynamoDB emulator); prints a table
	$(GO) test -race -count=1 -timeout 10m -run '^TestAttack' -v ./infra/local/ | grep -v -E '^(=== (RUN|PAUSE|CONT)|    --- PASS|--- PASS)'

fuzz: ## run each fuzz target for FUZZTIME (default 20s)
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$fn ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) ./$$pkg || exit 1; \
	done

# The README's screenshots: the browser tests save every page and email at
# 375 and 1280 px wide in .aws-sam/screenshots; these few are committed.
SCREENSHOTS := landing-1280 email-freebie-1280 confirm-1280 unsubscribe-375 proof-1280

screenshots: tools ## run the browser tests and copy the README's screenshots into docs/screenshots
	rm -rf .aws-sam/screenshots
	UNBUNDLED_SCREENSHOTS=$(CURDIR)/.aws-sam/screenshots $(GO) test -count=1 -timeout 10m -run '^TestBrowser' ./infra/local/
	mkdir -p docs/screenshots
	rm -f docs/screenshots/*.png
	for s in $(SCREENSHOTS); do cp .aws-sam/screenshots/$$s.png docs/screenshots/; done
	@du -ch docs/screenshots/*.png | tail -n1

unit: ## Go-only tests, no emulators or browser (packages that need them skip with a message)
	$(GO) test -short -race -count=1 ./...

tools: ## install pinned test tools into .tools/ (no-op when up to date)
	bash infra/tools/install.sh

check: ## gofmt, go vet, staticcheck, go mod tidy
	@unformatted="$$(gofmt -l functions infra shared)"; if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) mod tidy -diff

sam-validate: ## sam validate --lint (cfn-lint) on template.yaml
	AWS_REGION=eu-west-2 $(SAM) validate --lint --template template.yaml

sam-build: ## sam build for ARCH (default arm64, as deployed)
	GOARCH=$(GOARCH) $(SAM) build --build-in-source --template template.yaml --parameter-overrides Architecture=$(ARCH)

bench: ## benchmarks, with figures printed (Go only: store packages that need emulators skip under -short)
	$(GO) test -short -run '^$$' -bench . -benchmem ./shared/...

deploy: ## build for arm64 and deploy with the settings in samconfig.toml
	@if grep -q '"/_local/' $(MAGNETS); then echo "$(MAGNETS) links to /_local/ (the local server's sample files), which do not exist on AWS: set real download_url values, or MAGNETS=your-file.json"; exit 1; fi
	$(MAKE) sam-build ARCH=arm64
	$(SAM) deploy

clean: ## remove build output and local data (keeps tools)
	rm -rf .aws-sam data

# --- SAM makefile builders (called by sam build) ---------------------------
build-SignupFunction:
	$(call lambda,signup)

build-UnsubscribeFunction:
	$(call lambda,unsubscribe)

build-ConfirmFunction:
	$(call lambda,confirm)

build-DeliverFunction:
	$(call lambda,deliver)

build-SweepFunction:
	$(call lambda,sweep)

build-FeedbackFunction:
	$(call lambda,feedback)

build-AdminFunction:
	$(call lambda,admin)

build-RetentionFunction:
	$(call lambda,retention)

define lambda
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) $(GO) build -trimpath -tags lambda.norpc -ldflags='-s -w' -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(1)
	cp $(MAGNETS) $(ARTIFACTS_DIR)/magnets.json
endef
