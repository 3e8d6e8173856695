// What the load generator reads about processes: the server's CPU time and memory from
// /proc, its own CPU time, and the open-file limit.
#pragma once

#include <cstdint>
#include <string>

namespace quckrt::bench {

struct ProcessSample {
    bool ok = false;     // false when the process is gone or /proc is unreadable
    int64_t cpu_ns = 0;  // utime + stime of all threads (clock-tick resolution)
    int64_t rss_kb = 0;  // VmRSS
    int64_t hwm_kb = 0;  // VmHWM: peak RSS
};

// sample_process(pid): reads /proc/PID/stat and /proc/PID/status.
ProcessSample sample_process(int pid);

// self_cpu_ns(): user + system CPU time of this process so far.
int64_t self_cpu_ns();

// raise_fd_limit(): raises RLIMIT_NOFILE's soft limit to the hard limit and returns the soft
// limit now in force (or -1 with error set).
int64_t raise_fd_limit(std::string& error);

}  // namespace quckrt::bench
