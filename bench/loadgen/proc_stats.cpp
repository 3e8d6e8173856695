#include "proc_stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

namespace quckrt::bench {
namespace {

int64_t status_kb(const std::string& status, std::string_view key) {
    const size_t at = status.find(key);
    if (at == std::string::npos) return 0;
    return std::strtoll(status.c_str() + at + key.size(), nullptr, 10);
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    if (!in) return {};
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

ProcessSample sample_process(int pid) {
    ProcessSample sample;
    const std::string base = "/proc/" + std::to_string(pid);
    const std::string stat = slurp(base + "/stat");
    // The command name sits in parentheses and may itself contain spaces or ')', so fields
    // are counted from the last ')'. utime and stime are fields 14 and 15.
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos) return sample;
    std::istringstream fields(stat.substr(paren + 1));
    std::string field;
    int64_t utime = -1;
    int64_t stime = -1;
    for (int n = 3; n <= 15 && (fields >> field); ++n) {
        if (n == 14) utime = std::strtoll(field.c_str(), nullptr, 10);
        if (n == 15) stime = std::strtoll(field.c_str(), nullptr, 10);
    }
    if (utime < 0 || stime < 0) return sample;
    const int64_t ticks_per_sec = sysconf(_SC_CLK_TCK);
    sample.cpu_ns = (utime + stime) * (1'000'000'000 / ticks_per_sec);

    const std::string status = slurp(base + "/status");
    sample.rss_kb = status_kb(status, "VmRSS:");
    sample.hwm_kb = status_kb(status, "VmHWM:");
    sample.ok = true;
    return sample;
}

int64_t self_cpu_ns() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto ns = [](const timeval& tv) {
        return int64_t{tv.tv_sec} * 1'000'000'000 + tv.tv_usec * 1000;
    };
    return ns(usage.ru_utime) + ns(usage.ru_stime);
}

int64_t raise_fd_limit(std::string& error) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        error = std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno);
        return -1;
    }
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
            error = std::string("setrlimit(RLIMIT_NOFILE): ") + std::strerror(errno);
            return -1;
        }
    }
    return limit.rlim_cur == RLIM_INFINITY ? int64_t{1} << 30
                                           : static_cast<int64_t>(limit.rlim_cur);
}

}  // namespace quckrt::bench
