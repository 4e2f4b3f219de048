# embargo: see README.md.
GO      ?= go
BIN     := bin/embargo
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build demo test vet bench clean

build:
	$(GO) build -ldflags "-X github.com/async-rs/embargo/cli.Version=$(VERSION)" -o $(BIN) .

# The built-in example: a generated world with two maintained release lines
# and their held fixes, T0 a few seconds ahead; watch the countdown and the
# push at T0.
demo: build
	@dir=$$(mktemp -d) && \
	  cfg=$$($(BIN) sandbox demo --dir $$dir --in 5s) && \
	  echo "example written to $$dir" && \
	  $(BIN) run -c $$cfg

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

test: vet
	$(GO) test -count=1 -timeout 9m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 20m ./bench/

clean:
	rm -rf bin
