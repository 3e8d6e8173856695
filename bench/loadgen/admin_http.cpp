#include "admin_http.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>

#include "clock.hpp"

namespace quckrt::bench {
namespace {

class HttpConnection {
  public:
    explicit HttpConnection(const Endpoint& endpoint) : endpoint_(endpoint) {}
    ~HttpConnection() { close_fd(); }
    HttpConnection(const HttpConnection&) = delete;
    HttpConnection& operator=(const HttpConnection&) = delete;

    // post(path, token, body, status, response, error): one request; reconnects once if the
    // kept-alive connection turns out to be closed before any response byte arrived.
    bool post(std::string_view path, std::string_view token, std::string_view body, int& status,
              std::string& response, std::string& error) {
        std::string request = "POST ";
        request += path;
        request += " HTTP/1.1\r\nHost: ";
        request += endpoint_.host_header;
        request += "\r\nAuthorization: Bearer ";
        request += token;
        request += "\r\nContent-Type: application/json\r\nContent-Length: ";
        request += std::to_string(body.size());
        request += "\r\n\r\n";
        request += body;
        for (int attempt = 0; attempt < 2; ++attempt) {
            if (fd_ < 0 && !connect_fd(error)) return false;
            bool got_bytes = false;
            if (write_all(request, error) && read_response(status, response, got_bytes, error)) {
                return true;
            }
            close_fd();
            if (got_bytes) return false;
        }
        return false;
    }

  private:
    bool connect_fd(std::string& error) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) {
            error = std::string("socket: ") + std::strerror(errno);
            return false;
        }
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        timeval tv{10, 0};  // a stuck server fails the run instead of hanging it
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&endpoint_.address),
                      sizeof endpoint_.address) != 0) {
            error = std::string("connect: ") + std::strerror(errno);
            close_fd();
            return false;
        }
        buf_.clear();
        return true;
    }

    void close_fd() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    bool write_all(std::string_view data, std::string& error) {
        while (!data.empty()) {
            const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                error = std::string("send: ") + std::strerror(errno);
                return false;
            }
            data.remove_prefix(static_cast<size_t>(n));
        }
        return true;
    }

    bool fill(std::string& error) {
        char chunk[4096];
        for (;;) {
            const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                error = std::string("recv: ") + std::strerror(errno);
                return false;
            }
            if (n == 0) {
                error = "server closed the admin connection";
                return false;
            }
            buf_.append(chunk, static_cast<size_t>(n));
            return true;
        }
    }

    bool read_response(int& status, std::string& body, bool& got_bytes, std::string& error) {
        size_t head_end;
        while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
            if (!fill(error)) return false;
            got_bytes = true;
        }
        got_bytes = true;
        const std::string_view head(buf_.data(), head_end);
        // "HTTP/1.1 201 Created"
        const size_t sp = head.find(' ');
        if (sp == std::string_view::npos ||
            std::from_chars(head.data() + sp + 1, head.data() + head.size(), status).ec !=
                std::errc()) {
            error = "malformed HTTP status line";
            return false;
        }
        size_t length = 0;
        bool has_length = false;
        bool close_after = false;
        size_t line = head.find("\r\n");
        while (line != std::string_view::npos && line < head.size()) {
            const size_t next = head.find("\r\n", line + 2);
            std::string_view h = head.substr(
                line + 2, (next == std::string_view::npos ? head.size() : next) - line - 2);
            const size_t colon = h.find(':');
            if (colon != std::string_view::npos) {
                std::string name(h.substr(0, colon));
                for (char& ch : name) ch = static_cast<char>(std::tolower(ch));
                std::string_view value = h.substr(colon + 1);
                while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
                if (name == "content-length") {
                    has_length =
                        std::from_chars(value.data(), value.data() + value.size(), length).ec ==
                        std::errc();
                } else if (name == "connection" && (value == "close" || value == "Close")) {
                    close_after = true;
                }
            }
            line = next;
        }
        if (!has_length) {
            error = "admin response without Content-Length";
            return false;
        }
        const size_t total = head_end + 4 + length;
        while (buf_.size() < total) {
            if (!fill(error)) return false;
        }
        body.assign(buf_, head_end + 4, length);
        buf_.erase(0, total);
        if (close_after) close_fd();
        return true;
    }

    const Endpoint& endpoint_;
    int fd_ = -1;
    std::string buf_;
};

}  // namespace

bool create_conversations(const Endpoint& endpoint, const std::string& admin_token,
                          const std::vector<ConversationSpec>& specs, CreateResult& result,
                          std::string& error) {
    const int64_t begin = now_ns();
    HttpConnection http(endpoint);
    std::string body;
    std::string response;
    for (const ConversationSpec& spec : specs) {
        // Ids and user ids are the bench's own ([A-Za-z0-9:_-]), so no JSON escaping needed.
        body = R"({"id":")" + spec.id + R"(","kind":"group","members":[)";
        for (size_t i = 0; i < spec.members.size(); ++i) {
            if (i) body += ',';
            body += '"' + spec.members[i] + '"';
        }
        body += "]}";
        int status = 0;
        if (!http.post("/api/conversations", admin_token, body, status, response, error)) {
            error = "POST /api/conversations (" + spec.id + "): " + error;
            return false;
        }
        if (status == 201) {
            ++result.created;
        } else if (status == 409) {
            ++result.existed;
        } else {
            error = "POST /api/conversations (" + spec.id + ") answered " + std::to_string(status) +
                    ": " + response.substr(0, 200);
            return false;
        }
    }
    result.seconds = static_cast<double>(now_ns() - begin) / 1e9;
    return true;
}

}  // namespace quckrt::bench
