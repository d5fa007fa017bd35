# The two commands that matter: `make run` and `make test`. Both install what they need.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
export AWS_EC2_METADATA_DISABLED := true
export PATH := $(CURDIR)/.tools/venv/bin:$(PATH)
# A clean clone builds once: incremental caches would only take disk (gigabytes) and time.
ifeq ($(CI),true)
export CARGO_INCREMENTAL := 0
endif

.PHONY: help run test deps fmt lint openapi unit smoke fuzz security bench infra-lint package table clean-local

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

run: ## Run the whole API on http://127.0.0.1:9000 (embedded store; STORE=dynamodb for DynamoDB Local)
	scripts/run-local.sh

# The verification suites add their figures here; `make test` prints their sum at the end.
FIGURES := $(CURDIR)/target/verification-figures.jsonl

test: export VERIFICATION_FIGURES := $(FIGURES)
test: deps ## Everything CI runs: format, lints, all tests on both stores, fuzzing, smoke test
	rm -f $(FIGURES)
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace --no-fail-fast
	scripts/fuzz.sh
	STORE=dynamodb FUZZ_MAX_EXAMPLES=25 scripts/fuzz.sh
	tests/smoke.sh
	$(MAKE) --no-print-directory infra-lint
	scripts/verification-figures.py $(FIGURES)

deps: ## Install test tools into .tools/ when missing (cargo-lambda, Java 17, DynamoDB Local, moto)
	scripts/install-tools.sh test

fmt: ## Format the code
	cargo fmt --all

lint: ## Clippy with warnings as errors
	cargo clippy --workspace --all-targets -- -D warnings

openapi: ## Regenerate functions/health/openapi.json from the routers (a test fails while it is stale)
	cargo run --quiet -p api-tests --bin openapi

unit: deps ## Only the cargo tests (both store backends included)
	cargo test --workspace --no-fail-fast

smoke: deps ## Only the smoke test through cargo lambda watch
	tests/smoke.sh

fuzz: deps ## Only contract fuzzing (Schemathesis); FUZZ_MAX_EXAMPLES=1000 FUZZ_SEED=random for a longer campaign
	scripts/fuzz.sh

security: deps ## Only the security checks: promises, token attacks, bad input (API_BASE_URL=... for a running API)
	cargo test -p api-tests --test promises --test security -- --nocapture

BENCH_SUMMARY := $(CURDIR)/target/bench-summary.jsonl

bench: export BENCH_SUMMARY := $(BENCH_SUMMARY)
bench: deps ## Benchmarks (figures, not gates): cold start, memory and size; per request; throughput on loopback
	rm -f $(BENCH_SUMMARY)
	scripts/bench-lambda.sh
	cargo run --quiet --profile bench-fast -p bench-requests
	scripts/bench-load.sh
	STORE=dynamodb scripts/bench-load.sh
	scripts/bench-summary.py $(BENCH_SUMMARY)

infra-lint: ## Check the SAM template offline: cfn-lint, then sam validate --lint
	scripts/install-tools.sh infra
	.tools/infra/bin/cfn-lint infra/template.yaml
	SAM_CLI_TELEMETRY=0 AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline \
	  .tools/infra/bin/sam validate --lint --region us-east-1 --template-file infra/template.yaml

package: ## Build every function's deployment zip (cargo lambda build --release) and print the sizes
	scripts/package.sh

table: ## Create the table where STORE=dynamodb and DYNAMODB_ENDPOINT point
	cargo run --quiet -p shared --bin create-table

clean-local: ## Forget local data (embedded store, dev secrets, DynamoDB Local data)
	rm -rf .local
