// Listening sockets of our own. Debian's lws (LWS_MAX_SMP 1) sets SO_REUSEPORT only for
// multi-thread contexts, so several single-thread contexts cannot share a port through lws.
// Each loop therefore opens its own SO_REUSEPORT socket (the kernel balances new
// connections across them), watches it through lws as a raw descriptor, accepts, and hands
// each accepted socket to lws with lws_adopt_socket_vhost.
#pragma once

#include <quckrt/status.hpp>

#include <string>

namespace quckrt::net {

// open_listener(host, port): a non-blocking, listening TCP socket with SO_REUSEPORT.
// host "" / "0.0.0.0" binds every IPv4 address, "::" every IPv6 one.
Result<int> open_listener(const std::string& host, int port);

// listener_port(fd): the bound port (resolves port 0).
int listener_port(int fd);

// accept_ready(fd, fn): accept up to `max` pending connections, calling fn(client_fd) for
// each (TCP_NODELAY set, non-blocking). Returns the number accepted.
template <class Fn>
int accept_ready(int fd, int max, Fn&& fn);

int accept_one(int fd);  // -1 when nothing is pending or on error

template <class Fn>
int accept_ready(int fd, int max, Fn&& fn) {
    int n = 0;
    for (; n < max; ++n) {
        const int client = accept_one(fd);
        if (client < 0) break;
        fn(client);
    }
    return n;
}

}  // namespace quckrt::net
