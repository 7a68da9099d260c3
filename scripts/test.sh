#!/usr/bin/env bash
# The whole test suite: vet, unit and integration tests (in-process SSH and
# NATS servers), bounded fuzzing, and the end-to-end tests on the local lab.
# Run as root on Debian; it installs the Debian packages it needs first (scripts/install-deps.sh,
# a no-op when they are there), so that it runs on a fresh machine as README says.
# The end-to-end tests bring the lab up and take it down themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export PATH=$PATH:/usr/local/go/bin
export GOFLAGS=-buildvcs=false

echo "== vet"
go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [[ -n $unformatted ]]; then echo "gofmt would change: $unformatted" >&2; exit 1; fi

echo "== build"
go build -ldflags "-X main.version=$(git describe --always --dirty 2>/dev/null || echo dev)" -o bin/dcctl ./cmd/dcctl
# nats-server from the module version go.mod pins (checked by go.sum)
go build -o bin/nats-server github.com/nats-io/nats-server/v2
# an older release for the upgrade tests and drill, from the module proxy
# (checked against the checksum database); built once, kept while it is the one
old_nats=v2.14.9
if ! go version -m bin/nats-server-old 2>/dev/null | grep -q "nats-server/v2[[:space:]]*${old_nats}[[:space:]]"; then
	GOBIN=$PWD/bin/.old go install "github.com/nats-io/nats-server/v2@${old_nats}"
	mv -f bin/.old/nats-server bin/nats-server-old && rmdir bin/.old
fi

# natscli, for the end-to-end test that an exported context works with `nats --context`;
# built once, kept while it is the one
natscli=v0.5.0
if ! go version -m bin/nats 2>/dev/null | grep -q "natscli[[:space:]]*${natscli}[[:space:]]"; then
	GOBIN=$PWD/bin/.natscli go install "github.com/nats-io/natscli/nats@${natscli}"
	mv -f bin/.natscli/nats bin/nats && rmdir bin/.natscli
fi

echo "== fuzz (bounded)"
# Bounded by a number of inputs, not by time: with -fuzztime 3s a worker cut off by the
# deadline on a loaded machine failed the run with "context deadline exceeded" although
# no input failed. The counts are about 3-15 s each on a 2-core machine.
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 60000x ./inventory
go test -run '^$' -fuzz '^FuzzParseFacts$' -fuzztime 8000x ./provision
# parsers of what hosts send back, and the redaction in front of the operator
for target in FuzzParseUnitShow:provision:10000 FuzzRedactConfig:provision:10000 FuzzConfigChange:provision:1000 \
	FuzzUnifiedDiff:provision:10000 FuzzExitError:remote:40000 FuzzRedact:inventory:40000 FuzzParseResult:lock:40000; do
	IFS=: read -r name pkg count <<<"$target"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "${count}x" "./${pkg}"
done

# rendered configs and units from fuzzed inventory strings, read back by nats-server's parser
go test -run '^$' -fuzz '^FuzzRender$' -fuzztime 800x ./templates
go test -run '^$' -fuzz '^FuzzQuote$' -fuzztime 16000x ./templates

echo "== unit and integration tests"
# One package at a time (-p 1): each starts clusters of in-process servers
# whose elections slow down when two such packages share the 2 cores. The
# lab tests run on their own afterwards for the same reason.
go test -p 1 -count=1 -timeout 20m $(go list ./... | grep -v '/e2e$')

echo "== end-to-end tests on the lab (DCCTL_E2E=1)"
DCCTL_E2E=1 go test -count=1 -timeout 30m -v ./e2e
