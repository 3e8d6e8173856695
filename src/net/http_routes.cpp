// Plain HTTP endpoints of the engine: health probes. Anything else is a JSON 404.
#include "net/http_response.hpp"
#include "net/loop.hpp"
#include "net/server_impl.hpp"

namespace quckrt::net {

int Loop::on_http(lws* wsi, std::string_view uri) {
    unsigned status = 200;
    std::string body;
    if (uri == "/health" || uri == "/health/live") {
        body = Json::object({{"status", "ok"}, {"connections", server_.connections().load()}})
                   .dump();
    } else if (uri == "/health/ready") {
        const bool ready = !server_.draining();
        status = ready ? 200 : 503;
        body = Json::object({{"status", ready ? "ready" : "draining"}}).dump();
    } else {
        status = 404;
        body = error_body("NOT_FOUND", "no such endpoint");
    }
    if (!write_json(wsi, status, body)) return -1;
    // Keep-alive: wait for the next request on this connection, or close.
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

}  // namespace quckrt::net
