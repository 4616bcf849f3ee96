#!/usr/bin/env bash
# Probe benchmark: the prober against nmap's connect scan on the same
# loopback ports (see docs/probes.md, "Benchmark"). Only 127.0.0.1 is probed.
#
# When run as root with ip(8), the benchmark runs in a network namespace of
# its own, so the kernel's connection counters (kernel-*-conns) count
# nothing but the two scanners. Without nmap the comparison is skipped and
# the prober's own figures are still printed.
#
#   scripts/bench-probe.sh            # all cases
#   BENCH='VsNmap/connect$' scripts/bench-probe.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bench=${BENCH:-VsNmap}
count=${BENCHTIME:-5x}
bin=$(mktemp -d)/probe.test
trap 'rm -rf "$(dirname "$bin")"; [ -n "${ns:-}" ] && ip netns del "$ns" 2>/dev/null || true' EXIT

command -v nmap >/dev/null || echo "bench-probe: nmap not installed (apt-get install -y nmap): comparison skipped" >&2
go test -c -o "$bin" ./probe

run=("$bin" -test.run '^$' -test.benchtime "$count")
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && ip netns add "portcullis-bench-$$" 2>/dev/null; then
	ns="portcullis-bench-$$"
	ip netns exec "$ns" ip link set lo up
	run=(ip netns exec "$ns" "${run[@]}")
	echo "bench-probe: running in network namespace $ns (exact kernel counters)" >&2
fi

echo "# $(date -u +%FT%TZ) $(uname -srm), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(go version | cut -d' ' -f3), $(nmap --version 2>/dev/null | head -1 || echo 'no nmap')"
# nmap -sV spends about a minute and a half on the fingerprint case: one iteration is enough.
if [ "$bench" = VsNmap ]; then
	"${run[@]}" -test.bench 'VsNmap/(connect|filtered)'
	"${run[@]/$count/1x}" -test.bench 'VsNmap/fingerprint'
else
	"${run[@]}" -test.bench "$bench"
fi
