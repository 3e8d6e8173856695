#include "net/http_response.hpp"

#include <quckrt/json.hpp>

namespace quckrt::net {

bool write_json(lws* wsi, unsigned status, std::string_view body) {
    unsigned char headers[LWS_PRE + 512];
    unsigned char* start = headers + LWS_PRE;
    unsigned char* p = start;
    unsigned char* end = headers + sizeof(headers) - 1;
    if (lws_add_http_common_headers(wsi, status, "application/json", body.size(), &p, end))
        return false;
    if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     reinterpret_cast<const unsigned char*>("no-store"), 8, &p,
                                     end))
        return false;
    if (lws_finalize_write_http_header(wsi, start, &p, end)) return false;
    std::string buf(LWS_PRE, '\0');
    buf.append(body);
    auto* data = reinterpret_cast<unsigned char*>(buf.data() + LWS_PRE);
    return lws_write(wsi, data, body.size(), LWS_WRITE_HTTP_FINAL) >= 0;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

std::string error_body(std::string_view code, std::string_view message) {
    return Json::object({{"error", Json::object({{"code", code}, {"message", message}})}}).dump();
}

std::optional<Json> json_object_body(std::string_view body) {
    auto parsed = Json::parse(body.empty() ? std::string_view("{}") : body);
    if (!parsed || !parsed->is_object()) return std::nullopt;
    return std::move(*parsed);
}

}  // namespace quckrt::net
