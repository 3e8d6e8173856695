#include "token.hpp"

#include <quckrt/auth.hpp>
#include <quckrt/json.hpp>

namespace quckrt::bench {

std::string user_id(uint64_t index) {
    std::string id = "u";
    id += std::to_string(index);
    return id;
}

bool make_token(std::string_view secret, std::string_view subject, std::string& token,
                std::string& error) {
    const Json claims = Json::object({{"sub", subject}, {"exp", jwt::now_seconds() + 3600}});
    Result<std::string> signed_token = jwt::sign_hs256(secret, claims);
    if (!signed_token) {
        error = signed_token.error().to_string();
        return false;
    }
    token = std::move(*signed_token);
    return true;
}

}  // namespace quckrt::bench
