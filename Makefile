# embargo: see README.md.
GO      ?= go
BIN     := bin/embargo
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build demo test vet bench clean

build:
	$(GO) build -ldflags "-X github.com/async-rs/embargo/cli.Version=$(VERSION)" -o $(BIN) .

# The built-in example, rehearsed: a generated world with two maintained
# release lines and their held fixes, its own registry and blog served on
# this machine (the rehearsal reads them as the real ones); the rehearsal's
# T0 a few seconds ahead to watch the countdown, then the push and the
# publishes with the real cargo into a sandbox registry.
demo: build
	@dir=$$(mktemp -d) && \
	  cfg=$$($(BIN) sandbox demo --dir $$dir -q) && \
	  echo "example written to $$dir" && \
	  { $(BIN) sandbox serve --dir $$dir >$$dir/serve.out & serve=$$!; } && \
	  until test -s $$dir/serve.out || ! kill -0 $$serve 2>/dev/null; do sleep 0.1; done && \
	  $(BIN) rehearse -c $$cfg --in 5s; rc=$$?; kill $$serve 2>/dev/null; exit $$rc

# staticcheck from PATH (.ci/run installs it), else built from the module
# proxy at the pinned version.
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo "$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2")

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(STATICCHECK) ./...

test: vet
	$(GO) test -count=1 -timeout 15m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 20m ./bench/

clean:
	rm -rf bin
