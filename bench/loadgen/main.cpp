// quckrt-loadgen: drives a Phoenix Channels V2 server (quckrt-server) over loopback and
// reports throughput, latency and the server's CPU and memory. See bench/README.md.
#include <csignal>
#include <cstdio>
#include <string>

#include "options.hpp"
#include "scenarios.hpp"

int main(int argc, char** argv) {
    using namespace quckrt::bench;
    // A server that goes away mid-write must show up as a failed connection, not kill us.
    std::signal(SIGPIPE, SIG_IGN);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    Options options;
    std::string error;
    if (!parse_options(argc, argv, options, error)) {
        std::fprintf(stderr, "quckrt-loadgen: %s\n", error.c_str());
        return 2;
    }
    if (options.scenario == "help") {
        std::fputs(usage(), stdout);
        return 0;
    }
    if (options.scenario == "fanout" || options.scenario == "topics") return run_pubsub(options);
    if (options.scenario == "idle") return run_idle(options);
    if (options.scenario == "connect") return run_connect(options);
    if (options.scenario == "presence") return run_presence(options);
    if (options.scenario == "queue-drain") return run_queue_drain(options);
    if (options.scenario == "replay") return run_replay(options);
    if (options.scenario == "resume-storm") return run_resume_storm(options);
    std::fprintf(stderr,
                 "quckrt-loadgen: unknown scenario '%s' (fanout, topics, idle, connect, "
                 "presence, queue-drain, replay, resume-storm)\n",
                 options.scenario.c_str());
    return 2;
}
