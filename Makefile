# hive's build, test and demo entry points. `make up` gives a working
# single-node hive with a demo service; `make test` runs every test.

GO       ?= go
BIN      := bin
HIVE     := $(BIN)/hive
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/hiveorch/hive/core/version.Version=$(VERSION)
DEMO_IMAGE := hive-demo/web:latest
DEMO_PORT  ?= 8080

.PHONY: all build plugins testimage containerd vault test unit acceptance bench up down lint proto clean

all: build

## build: the hive binary (bin/hive), which also serves the built-in plugins
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(HIVE) ./cmd/hive

## plugins: the first-party plugins as stand-alone executables too (bin/runtime-docker, ...)
plugins:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/runtime-docker ./plugins/runtime-docker
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/runtime-containerd ./plugins/runtime-containerd
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/scheduler-spread ./plugins/scheduler-spread
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/secrets-vault ./plugins/secrets-vault

## testimage: the test and demo images, built locally (no registry needed)
testimage:
	acceptance/testimage/build.sh
	docker tag hive-test/web:v1 $(DEMO_IMAGE)

## containerd: start the containerd dedicated to hive (its own socket, /run/hive-containerd) unless it answers
containerd:
	-plugins/runtime-containerd/scripts/containerd.sh start

## vault: the Vault server the secrets-vault tests run (bin/vault), built from the Go module proxy if missing
vault:
	plugins/secrets-vault/scripts/build-vault.sh $(BIN)/vault

## test: unit tests, then the acceptance tests against the real engines
test: unit acceptance

unit: containerd testimage vault
	$(GO) test -race -count=1 ./...

acceptance: build plugins testimage containerd vault
	HIVE_TEST_BIN=$(CURDIR)/$(HIVE) \
		$(GO) test -count=1 -timeout 40m -tags acceptance -v ./acceptance/...

## bench: the benchmarks (figures go in README.md)
bench: build testimage containerd
	$(GO) test -run '^$$' -bench . -benchtime 1x ./core/... ./plugins/...
	HIVE_TEST_BIN=$(CURDIR)/$(HIVE) bench/run.sh
	HIVE_TEST_BIN=$(CURDIR)/$(HIVE) bench/containerd.sh
	HIVE_TEST_BIN=$(CURDIR)/$(HIVE) bench/update.sh
	HIVE_TEST_BIN=$(CURDIR)/$(HIVE) bench/cluster.sh
	HIVE_TEST_BIN=$(CURDIR)/$(HIVE) bench/network.sh
	HIVE_TEST_BIN=$(CURDIR)/$(HIVE) bench/stack.sh
	HIVE_TEST_BIN=$(CURDIR)/$(HIVE) bench/dockerapi.sh

## up: build, start hive in the background and deploy a 3-replica demo service
up: build testimage
	@$(HIVE) service ls >/dev/null 2>&1 || $(HIVE) up -d
	@$(HIVE) service inspect demo >/dev/null 2>&1 || \
		$(HIVE) service create --name demo --replicas 3 -p $(DEMO_PORT):80 $(DEMO_IMAGE)
	@echo
	@echo "hive is up with a demo service of 3 replicas:"
	@echo "  curl http://localhost:$(DEMO_PORT)/     # answers with the container's hostname"
	@echo "  $(HIVE) service ps demo"
	@echo "  make down                              # remove the demo and stop hive"

## down: remove the demo service, wait until its containers are stopped, and stop hive
down:
	-@$(HIVE) service rm --wait demo 2>/dev/null
	$(HIVE) down

## lint: formatting, vet and staticcheck
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: run gofmt -w on the files above'; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags acceptance ./acceptance/...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

## proto: regenerate the plugin protocol's Go code (needs protoc)
proto:
	$(GO) generate ./plugins/sdk/proto/...

clean:
	rm -rf $(BIN)
