# Parley. The README's two commands are `make run` and `make test`.
GO ?= go

.PHONY: run test build bench fuzz screenshots

run: ## run a node on embedded NATS and SQLite; the URL is printed
	$(GO) run ./cmd/parley serve

test: ## every suite; installs or reports what it needs
	./scripts/test.sh

build:
	$(GO) build -o bin/parley ./cmd/parley

bench: build ## the full-size benchmarks of docs/benchmarks.md
	./scripts/bench.sh

fuzz: ## run each fuzz target for a while (seeds run in `make test`)
	$(GO) test -run XXX -fuzz FuzzDecode -fuzztime 60s ./internal/protocol/
	$(GO) test -run XXX -fuzz FuzzReadMessage -fuzztime 60s ./internal/gateway/
	$(GO) test -run XXX -fuzz FuzzParseSearch -fuzztime 60s ./internal/chat/
	$(GO) test -run XXX -fuzz FuzzParseCursor -fuzztime 60s ./internal/chat/
	$(GO) test -run XXX -fuzz FuzzParseMentions -fuzztime 60s ./internal/chat/
	$(GO) test -run XXX -fuzz FuzzAnswer -fuzztime 60s ./internal/media/

screenshots: ## the web app's screenshots in docs/screenshots, taken by its browser tests
	cd test/browser && npm ci --no-audit --no-fund >/dev/null
	PARLEY_TEST_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run 'TestApp' ./test/browser/
