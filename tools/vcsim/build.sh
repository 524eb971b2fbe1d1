#!/bin/sh
# Build govmomi's vcsim (tools/vcsim/main.go) against Debian's govmomi 0.24.2.
# Prints the path of the binary. Rebuilds only when main.go is newer than it.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${SPHEREKIT_CACHE:-$HOME/.cache/spherekit}
bin=$cache/vcsim
gopath=/usr/share/gocode
govmomi=$gopath/src/github.com/vmware/govmomi

if [ -x "$bin" ] && [ ! "$here/main.go" -nt "$bin" ]; then
    echo "$bin"
    exit 0
fi

if ! command -v go >/dev/null 2>&1 || [ ! -d "$govmomi/simulator" ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "vcsim: installing golang-go and golang-github-vmware-govmomi-dev" >&2
        apt-get update >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y golang-go golang-github-vmware-govmomi-dev >&2
    else
        echo "vcsim: needs Debian packages golang-go and golang-github-vmware-govmomi-dev" \
             "(run: sudo apt-get install -y golang-go golang-github-vmware-govmomi-dev)" >&2
        exit 1
    fi
fi

mkdir -p "$cache/gocache"
# Build to a temporary name, then rename, so a concurrent reader never sees half a binary.
GOPATH=$gopath GO111MODULE=off GOCACHE=$cache/gocache GOFLAGS= \
    go build -o "$bin.tmp.$$" "$here/main.go" >&2
mv -f "$bin.tmp.$$" "$bin"
echo "$bin"
