#!/usr/bin/env bash
# From a fresh Debian machine (as root): install the prerequisites, build dcctl
# and nats-server, bring up the local two-DC lab, provision it, show its state.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
export GOFLAGS=-buildvcs=false

bash scripts/install-deps.sh
go build -ldflags "-X main.version=$(git describe --always --dirty 2>/dev/null || echo dev)" -o bin/dcctl ./cmd/dcctl
go build -o bin/nats-server github.com/nats-io/nats-server/v2
lab/lab up "${LAB_HOSTS:-10}"
bin/dcctl validate lab/inventory.toml
bin/dcctl provision lab/inventory.toml
bin/dcctl status lab/inventory.toml
