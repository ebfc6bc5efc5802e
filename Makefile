# wxcloudenv — build, test and package. Needs only Go (see go.mod).
GO ?= go
export CGO_ENABLED ?= 0

.PHONY: test
test: ## vet, then every test with the race detector
	$(GO) vet ./...
	CGO_ENABLED=1 $(GO) test -race -count=1 ./...
