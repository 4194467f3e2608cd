#!/bin/sh
# deps.sh GROUP... - install the Debian packages a make target needs.
#
# Groups: build (compile and run Fornax), test (everything `make test` runs:
# cmocka, etcd, Go's pprof tool, Chromium, graphviz, Node.js, Go's sprig and
# yaml.v3 for the offline Helm renderer), bench.
# Packages already installed are skipped, so this is cheap on a warm machine.
# As root it runs apt-get; otherwise it prints the one command to run.
set -eu

build_pkgs="gcc make pkg-config libevent-dev libprotobuf-c-dev protobuf-c-compiler \
libgrpc-dev librocksdb-dev liburing-dev libssl-dev zlib1g-dev libzstd-dev libyaml-dev \
libjansson-dev libpcre2-dev libroaring-dev libcurl4-openssl-dev libdeflate-dev"
test_pkgs="libcmocka-dev etcd-server etcd-client golang-go chromium graphviz python3 curl \
golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev"
bench_pkgs="golang-go python3"

want=""
for g in "$@"; do
    case "$g" in
    build) want="$want $build_pkgs" ;;
    test) want="$want $build_pkgs $test_pkgs" ;;
    bench) want="$want $build_pkgs $bench_pkgs" ;;
    *) echo "deps.sh: unknown group $g" >&2; exit 2 ;;
    esac
done
# Node.js may come from Debian or from NodeSource; only install Debian's
# when there is no node at all.
case " $* " in *" test "*)
    command -v node >/dev/null 2>&1 || want="$want nodejs"
    command -v npm >/dev/null 2>&1 || want="$want npm" ;;
esac

missing=""
for p in $want; do
    case " $missing " in *" $p "*) continue ;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "Fornax needs these Debian packages. Run as root:" >&2
    echo "  $cmd" >&2
    exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have empty package lists; update only when needed.
$cmd >/dev/null 2>&1 || { apt-get update -qq && $cmd >/dev/null; }
