#include "net/listener.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

namespace quckrt::net {
namespace {

// Large enough for a connect storm (1000 connects/s with a loop busy for a moment).
constexpr int kListenBacklog = 4096;

}  // namespace

Result<int> open_listener(const std::string& host, int port) {
    const bool v6 = host.find(':') != std::string::npos;
    sockaddr_storage addr{};
    socklen_t len = 0;
    if (v6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(static_cast<uint16_t>(port));
        if (inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1)
            return invalid_argument("host '" + host + "' is not an IPv6 address");
        len = sizeof(*a);
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&addr);
        a->sin_family = AF_INET;
        a->sin_port = htons(static_cast<uint16_t>(port));
        const std::string h = host.empty() ? "0.0.0.0" : (host == "localhost" ? "127.0.0.1" : host);
        if (inet_pton(AF_INET, h.c_str(), &a->sin_addr) != 1)
            return invalid_argument("host '" + host + "' is not an IPv4 address");
        len = sizeof(*a);
    }
    const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return unavailable(std::string("socket: ") + std::strerror(errno));
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) < 0 ||
        ::listen(fd, kListenBacklog) < 0) {
        const std::string err = std::strerror(errno);
        ::close(fd);
        return unavailable("cannot listen on " + host + ":" + std::to_string(port) + ": " + err);
    }
    return fd;
}

int listener_port(int fd) {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) return 0;
    if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

int accept_one(int fd) {
    const int client = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            spdlog::warn("event=accept_failed error=\"{}\"", std::strerror(errno));
        return -1;
    }
    const int one = 1;
    // Frames are corked by us already; Nagle would only add latency on top.
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return client;
}

}  // namespace quckrt::net
