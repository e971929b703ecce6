# Haven build and test entry points.

GO ?= go
FUZZTIME ?= 20s

.PHONY: build test bench fuzz

build:
	$(GO) build -o haven ./cmd/haven

# The full test suite: services, go vet, unit and end-to-end tests.
test:
	scripts/test.sh

# Benchmarks of the running server against nginx and the disk (bench/README.md),
# then the Go micro-benchmarks.
bench:
	bench/run-all.sh
	$(GO) test -run '^$$' -bench . ./...

# Short fuzz runs of the parsers.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./lfs
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./commitreq
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./card
