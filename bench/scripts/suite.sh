#!/usr/bin/env bash
# suite.sh [OUTDIR]
#
# Runs every preset of run.sh (the rows of the targets table in docs/design.md) one after
# the other, each with a fresh server, and prints one summary line per preset. Full logs go
# to OUTDIR (default: a new directory under /tmp); the RESULT lines are collected in
# OUTDIR/results.jsonl. Takes about two and a half minutes plus the presence-churn run
# (minutes while the join storm is slow; see bench/README.md). Environment as for run.sh.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
outdir=${1:-$(mktemp -d /tmp/quckrt-bench.XXXXXX)}
mkdir -p "$outdir"
: >"$outdir/results.jsonl"
presets=(fanout-heavy fanout-light topics-max conversations idle-10k connect-1000 presence-churn
    durable-sends queue-drain replay-10k resume-storm)

failed=0
for preset in "${presets[@]}"; do
    log="$outdir/$preset.log"
    if "$here/run.sh" "$preset" >"$log" 2>&1; then
        status=ok
    else
        status="FAILED (exit $?)"
        failed=1
    fi
    result=$(grep '^RESULT ' "$log" | tail -n 1 | cut -c8-)
    if [[ -n $result ]]; then
        printf '{"preset":"%s","result":%s}\n' "$preset" "$result" >>"$outdir/results.jsonl"
    fi
    pattern='^(deliveries/s|latency|push to reply|server|join time|connect to join|also|loadgen'
    pattern+='|join storm|leave storm|  presence frames|  server|  loadgen'
    pattern+='|acknowledged|send phase|send to ok reply|drain phase|backlog|acks|ack to reply)'
    # replay-10k and resume-storm
    resume='^([0-9]+ catch-up|replay:|history:|bytes from|check|storm:|  reader |  storm start'
    resume+='|  check:|other clients|  baseline|  storm \(|  after|    push)'
    summary=$(grep -E "$pattern[: ]|^\[setup\] server|$resume" "$log" | grep -v '^server pid' |
        sed 's/^/    /')
    printf '%-14s %s\n%s\n' "$preset" "$status" "$summary"
done
echo "logs and results.jsonl in $outdir"
exit "$failed"
