# The two quick-start commands: `make run` (server on embedded defaults) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Browser tests only (tests/e2e): Debian's chromium driven by Playwright, and hls.js from npm. `make run` needs neither.
CHROMIUM := /usr/bin/chromium
E2E := tests/e2e
E2E_STAMP := $(E2E)/node_modules/.installed
# The graphql-http server audit (tests/integration/test_graphql_http_audit.py), pinned by tests/audit/package-lock.json.
AUDIT := tests/audit
AUDIT_STAMP := $(AUDIT)/node_modules/.installed
# GraphiQL's browser files (React, GraphiQL, its explorer), served by the app so GraphiQL works offline: the npm
# tarballs' files checked against the hashes pinned in cms/http/graphiql.py, into a gitignored folder.
GRAPHIQL_STATIC := cms/http/graphiql_static
GRAPHIQL_STAMP := $(GRAPHIQL_STATIC)/.installed
# The admin app (plugins/admin/web, React + Vite + TypeScript), built into plugins/admin/static (gitignored), which
# the admin plugin serves under /admin. Typed operations are generated from graphql/ by `npm run codegen`.
ADMIN := plugins/admin/web
ADMIN_DEPS := $(ADMIN)/node_modules/.installed
ADMIN_BUILT := plugins/admin/static/index.html
ADMIN_SOURCES := $(shell find $(ADMIN)/src -type f -not -path '*/gql/*' 2>/dev/null) $(wildcard $(ADMIN)/*.ts $(ADMIN)/*.json $(ADMIN)/index.html) graphql/schema.graphql $(wildcard graphql/operations/*.graphql)
# The Kubernetes manifests (deploy/k8s): kustomize built from its Go module (pinned; Go from the machine, no
# toolchain download) into the venv; deploy/validate.py renders every overlay and validates it offline against the
# Kubernetes schemas bundled by kubernetes-validate (dev extra) and a strict KEDA ScaledObject schema.
KUSTOMIZE_VERSION := v5.8.2
KUSTOMIZE := $(BIN)/kustomize
KUSTOMIZE_STAMP := $(BIN)/.kustomize-$(KUSTOMIZE_VERSION)
APT_GET := DEBIAN_FRONTEND=noninteractive apt-get
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: install graphiql admin admin-deps admin-check admin-test e2e-deps audit-deps deploy-deps deploy-check services run test fmt lint typecheck check schema bench-api bench-edge bench-search bench-ingest bench-admin bench-soak bench-observability clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian's chromium (built with H.264/AAC), never a browser downloaded by Playwright.
# `apt-get update` only when the install fails without it (fresh image, empty package lists).
$(CHROMIUM):
	$(SUDO) $(APT_GET) install -y --no-install-recommends chromium \
	  || { $(SUDO) apt-get update && $(SUDO) $(APT_GET) install -y --no-install-recommends chromium; }
	test -x $(CHROMIUM)

# hls.js, pinned by tests/e2e/package-lock.json; npm itself from Debian when the machine has none.
$(E2E_STAMP): $(E2E)/package.json $(E2E)/package-lock.json
	command -v npm >/dev/null || $(SUDO) $(APT_GET) install -y --no-install-recommends npm \
	  || { $(SUDO) apt-get update && $(SUDO) $(APT_GET) install -y --no-install-recommends npm; }
	cd $(E2E) && npm ci --ignore-scripts --no-audit --no-fund
	touch $(E2E_STAMP)

e2e-deps: $(CHROMIUM) $(E2E_STAMP)

$(AUDIT_STAMP): $(AUDIT)/package.json $(AUDIT)/package-lock.json
	command -v npm >/dev/null || $(SUDO) $(APT_GET) install -y --no-install-recommends npm \
	  || { $(SUDO) apt-get update && $(SUDO) $(APT_GET) install -y --no-install-recommends npm; }
	cd $(AUDIT) && npm ci --ignore-scripts --no-audit --no-fund
	touch $(AUDIT_STAMP)

audit-deps: $(AUDIT_STAMP)

$(GRAPHIQL_STAMP): cms/http/graphiql.py $(STAMP)
	command -v npm >/dev/null || $(SUDO) $(APT_GET) install -y --no-install-recommends npm \
	  || { $(SUDO) apt-get update && $(SUDO) $(APT_GET) install -y --no-install-recommends npm; }
	$(BIN)/python -m cms.http.graphiql_install
	touch $(GRAPHIQL_STAMP)

graphiql: $(GRAPHIQL_STAMP)

# Node.js and npm from Debian when the machine has none (Vite needs Node 20.19+).
$(ADMIN_DEPS): $(ADMIN)/package.json $(ADMIN)/package-lock.json
	command -v npm >/dev/null || $(SUDO) $(APT_GET) install -y --no-install-recommends nodejs npm \
	  || { $(SUDO) apt-get update && $(SUDO) $(APT_GET) install -y --no-install-recommends nodejs npm; }
	cd $(ADMIN) && npm ci --ignore-scripts --no-audit --no-fund
	touch $(ADMIN_DEPS)

admin-deps: $(ADMIN_DEPS)

$(ADMIN_BUILT): $(ADMIN_DEPS) $(ADMIN_SOURCES)
	cd $(ADMIN) && npm run build

admin: $(ADMIN_BUILT)

# The admin's type check: operations against the schema (codegen), then tsc over the app.
admin-check: $(ADMIN_DEPS)
	cd $(ADMIN) && npm run typecheck

# Vitest: the admin's UI logic (component-level tests in jsdom).
admin-test: $(ADMIN_DEPS)
	cd $(ADMIN) && npm test

$(KUSTOMIZE_STAMP): | $(STAMP)
	@command -v go >/dev/null || { echo "kustomize $(KUSTOMIZE_VERSION) is built with Go 1.26 or newer: install Go first" >&2; exit 1; }
	GOTOOLCHAIN=local GOBIN=$(abspath $(BIN)) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	touch $(KUSTOMIZE_STAMP)

deploy-deps: $(KUSTOMIZE_STAMP)

# Every Kustomize tree rendered and validated (schemas of Kubernetes 1.30 and 1.37, strict; references between
# objects); tests/unit/test_deploy_manifests.py checks the rendered manifests against the code.
deploy-check: install deploy-deps
	$(BIN)/python deploy/validate.py --kustomize $(KUSTOMIZE)

# GraphiQL's offline files are best effort here (npm may be missing): without them it loads them from a CDN.
run: install admin
	$(MAKE) graphiql || echo "GraphiQL's files not installed: GraphiQL will load them from a CDN"
	$(BIN)/cms serve

# PostgreSQL and Redis on loopback (Debian's, started when nothing answers), Java and Maven for OpenSearch/Keycloak.
services:
	bash .ci/services

test: install graphiql admin admin-test e2e-deps audit-deps deploy-deps services
	$(BIN)/pytest

# Quality gates: `make check` runs them all (CI runs it before the tests); `make fmt` rewrites the code in place.
fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

check: lint typecheck admin-check deploy-check

schema: install
	$(BIN)/cms export-schema

bench-api: install
	$(BIN)/python bench/api_bench.py

bench-edge: install
	sh bench/setup-system.sh
	$(BIN)/python bench/edge_bench.py

bench-search: install
	$(BIN)/python bench/search_bench.py

bench-ingest: install
	$(BIN)/python bench/ingest_bench.py

bench-admin: install admin-deps $(CHROMIUM)
	$(BIN)/python bench/admin_bench.py

bench-observability: install
	$(BIN)/python bench/observability_bench.py

# Two APIs and two workers under a mixed load for 10 minutes (`make bench-soak SOAK_ARGS=--short`: 60 seconds).
bench-soak: install services
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache $(E2E)/node_modules tests/artifacts $(GRAPHIQL_STATIC) $(ADMIN)/node_modules $(ADMIN)/src/gql plugins/admin/static
