#!/usr/bin/env bash
# run.sh SCENARIO [quckrt-loadgen flags...]
#
# Starts quckrt-server pinned to CPU 0 (one loop), runs quckrt-loadgen pinned to CPU 1
# against it, and stops the server afterwards. The last line of output is the loadgen's
# "RESULT {...}" line. Exit status is the loadgen's (0 only if every connection was set up,
# none was lost and every delivery arrived).
#
# SCENARIO is a loadgen scenario (fanout, topics, idle, connect, presence) or one of these
# presets, which reproduce the rows of the targets table in docs/design.md (and issue 3):
#   fanout-heavy   2000 subscribers of one topic, 200 publishes/s (400k deliveries/s)
#   fanout-light   2000 subscribers of one topic, 20 publishes/s
#   topics-max     10 topics x 100 subscribers, publishers as fast as replies allow
#   conversations  5000 two-member conversations (10k connections), 20k messages/s
#   idle-10k       10k idle joined connections
#   connect-1000   connect + JWT + join at 1000/s for 10 s
#   presence-churn 5000 users join one topic with presence on, then half of them leave;
#                  time until every client's presence view converged (issue 3)
# and two that start the server with SQLite storage (issue 4; a fresh database in the
# temporary directory, removed afterwards; the loadgen creates the conversations over the
# admin HTTP API first):
#   durable-sends  500 two-member conversations chat:c-0..chat:c-499, every member keeps 4
#                  message:send in flight; ok replies (= committed) per second
#   queue-drain    u0 sends 20000 messages to chat:c0 while u1 is offline, then u1 joins
#                  user:u1 and drains and acks the backlog; messages/s and acks/s
# and two for resume (issue 8; storage as above, --resume-max-events 20000):
#   replay-10k     u0 sends 10000 messages to chat:r0 while u1 is offline, then u1 joins
#                  with last_seq 0 and receives the replay; time, bytes, every seq once in
#                  order (add --fetch history for the naive history-paging catch-up)
#   resume-storm   1000 readers in 100 conversations each miss 100 messages, then all
#                  reconnect and resume at once while 50 other pairs send 500 messages/s;
#                  storm completion, join latency, the other clients' latency
# Extra flags are appended after the preset's, so they override it.
#
# Environment:
#   QUCKRT_BUILD_DIR    build tree holding server/quckrt-server and bench/quckrt-loadgen
#                       (default build/release)
#   QUCKRT_SERVER       server binary (default $QUCKRT_BUILD_DIR/server/quckrt-server)
#   QUCKRT_LOADGEN      loadgen binary (default: next to the server, under bench/)
#   QUCKRT_SERVER_ARGS  extra server flags (the storage presets add theirs before these)
#   QUCKRT_SERVER_CPU / QUCKRT_LOADGEN_CPU   CPUs to pin to (default 0 and 1)
#   QUCKRT_LOADGEN_TIMEOUT  seconds before the loadgen is interrupted (default 170; 900
#                       for presence and queue-drain runs, 600 for the resume ones)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${QUCKRT_BUILD_DIR:-$root/build/release}
server=${QUCKRT_SERVER:-$build_dir/server/quckrt-server}
loadgen=${QUCKRT_LOADGEN:-$(dirname "$(dirname "$server")")/bench/quckrt-loadgen}
server_cpu=${QUCKRT_SERVER_CPU:-0}
loadgen_cpu=${QUCKRT_LOADGEN_CPU:-1}
secret=bench-secret

if [[ $# -lt 1 ]]; then
    sed -n '2,40p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 2
fi
preset=$1
shift
loadgen_timeout=170
# Storage presets: server flags added before QUCKRT_SERVER_ARGS; the database lives in
# $workdir. DB_PATH is replaced once $workdir exists.
storage_args=(--storage sqlite:DB_PATH --admin-token bench-admin --send-rate 0)
server_args=()
case $preset in
    fanout-heavy)  args=(--scenario fanout --subscribers 2000 --publishers 1 --rate 200
                         --duration 10) ;;
    fanout-light)  args=(--scenario fanout --subscribers 2000 --publishers 1 --rate 20
                         --duration 10) ;;
    topics-max)    args=(--scenario topics --topics 10 --subscribers-per-topic 100 --window 8
                         --duration 10) ;;
    conversations) args=(--scenario topics --topics 5000 --subscribers-per-topic 2
                         --members-publish --rate 20000 --duration 10) ;;
    idle-10k)      args=(--scenario idle --connections 10000) ;;
    connect-1000)  args=(--scenario connect --rate 1000 --duration 10) ;;
    presence-churn) args=(--scenario presence --connections 5000 --leave-fraction 0.5
                          --timeout 300)
                    loadgen_timeout=900 ;;
    presence)      args=(--scenario presence); loadgen_timeout=900 ;;
    durable-sends) args=(--scenario topics --topic chat:c --topics 500 --subscribers-per-topic 2
                         --members-publish --window 4 --duration 10 --create-conversations
                         --admin-token bench-admin)
                   server_args=("${storage_args[@]}") ;;
    queue-drain)   args=(--scenario queue-drain --topic chat:c0 --messages 20000 --window 16
                         --ack-window 64 --create-conversations --admin-token bench-admin)
                   server_args=("${storage_args[@]}")
                   loadgen_timeout=900 ;;
    replay-10k)    args=(--scenario replay --topic chat:r0 --messages 10000 --window 16 --repeat 5
                         --create-conversations --admin-token bench-admin)
                   server_args=("${storage_args[@]}" --resume-max-events 20000)
                   loadgen_timeout=600 ;;
    resume-storm)  args=(--scenario resume-storm --readers 1000 --conversations 100
                         --messages 100 --window 8 --other-pairs 50 --rate 500 --baseline 3
                         --max-pending 1000 --create-conversations --admin-token bench-admin)
                   server_args=("${storage_args[@]}" --resume-max-events 20000)
                   loadgen_timeout=600 ;;
    fanout|topics|idle|connect) args=(--scenario "$preset") ;;
    *) echo "run.sh: unknown scenario '$preset'" >&2; exit 2 ;;
esac

for bin in "$server" "$loadgen"; do
    if [[ ! -x $bin ]]; then
        echo "run.sh: $bin is missing; build it first, e.g." >&2
        echo "  cmake -S $root -B $root/build/release -G Ninja -DCMAKE_BUILD_TYPE=Release" >&2
        echo "  cmake --build $root/build/release -j2 --target quckrt-server quckrt-loadgen" >&2
        exit 2
    fi
done

# Both processes may hold up to the hard open-file limit (20000 here).
ulimit -n "$(ulimit -Hn)"

workdir=$(mktemp -d)
server_pid=
cleanup() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
server_args=("${server_args[@]/DB_PATH/$workdir/bench.db}")

# shellcheck disable=SC2086  # QUCKRT_SERVER_ARGS is a list of flags on purpose
taskset -c "$server_cpu" "$server" --host 127.0.0.1 --port 0 --loops 1 --jwt-secret "$secret" \
    --max-connections 19900 --log-level warn ${server_args[@]+"${server_args[@]}"} \
    ${QUCKRT_SERVER_ARGS:-} \
    >"$workdir/server.out" 2>"$workdir/server.err" &
server_pid=$!

port=
for _ in $(seq 100); do
    port=$(sed -n 's|^quckrt-server listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' \
        "$workdir/server.out" | head -n 1)
    [[ -n $port ]] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "run.sh: quckrt-server exited before listening:" >&2
        cat "$workdir/server.err" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ -z $port ]]; then
    echo "run.sh: quckrt-server did not print its port within 10 s" >&2
    exit 1
fi
echo "server pid $server_pid on CPU $server_cpu, port $port; loadgen on CPU $loadgen_cpu"
[[ ${#server_args[@]} -gt 0 ]] && echo "server ${server_args[*]}"
echo "loadgen ${args[*]} $*"

status=0
timeout --signal=INT "${QUCKRT_LOADGEN_TIMEOUT:-$loadgen_timeout}" taskset -c "$loadgen_cpu" "$loadgen" --port "$port" \
    --server-pid "$server_pid" --jwt-secret "$secret" "${args[@]}" "$@" || status=$?

if ! kill -0 "$server_pid" 2>/dev/null; then
    wait "$server_pid" || echo "run.sh: quckrt-server died during the run (exit status $?)" >&2
    tail -n 20 "$workdir/server.err" >&2
    server_pid=
    [[ $status -eq 0 ]] && status=1
else
    # libwebsockets always prints two "N:" (notice) banner lines; show anything else.
    if grep -qv '\] N: ' "$workdir/server.err"; then
        echo "--- server stderr (last 10 lines other than lws notices)"
        grep -v '\] N: ' "$workdir/server.err" | tail -n 10
    fi
fi
exit "$status"
