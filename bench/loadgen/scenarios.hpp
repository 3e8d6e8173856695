// The scenarios. Each prints human-readable lines and a final RESULT line, and returns
// the process exit status.
#pragma once

#include "options.hpp"

namespace quckrt::bench {

// fanout: N subscribers of one topic, P publishers at a fixed total rate.
// topics: T topics x K subscribers, publishers windowed by replies (or at a fixed rate).
int run_pubsub(const Options& options);
// idle: N connections each joined to its own topic; server memory per connection.
int run_idle(const Options& options);
// connect: new connections at a fixed rate; connect-to-join-ok latency.
int run_connect(const Options& options);
// presence: N users join one topic with presence on, then a share of them leave; the time
// until every client's presence view holds exactly the expected users.
int run_presence(const Options& options);
// queue-drain: one member sends N messages while the other is offline; then the other
// joins user:{id} and drains and acks the backlog.
int run_queue_drain(const Options& options);
// replay: one member sends N messages while the other is offline; then the other joins
// chat:X with last_seq and receives the replay (or pages history, for comparison).
int run_replay(const Options& options);
// resume-storm: readers in many conversations miss messages, then all reconnect and resume
// at once while other clients keep sending; their latency during the storm.
int run_resume_storm(const Options& options);

}  // namespace quckrt::bench
