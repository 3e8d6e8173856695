// JwtAuthenticator: the shipped Authenticator, verifying HS256 tokens locally (no I/O, so it
// is safe on every loop thread at once).

#include <quckrt/auth.hpp>

#include <mbedtls/platform_util.h>

namespace quckrt {
namespace {

class JwtAuthenticator final : public Authenticator {
public:
    explicit JwtAuthenticator(JwtOptions options) : options_(std::move(options)) {}

    JwtAuthenticator(const JwtAuthenticator&) = delete;
    JwtAuthenticator& operator=(const JwtAuthenticator&) = delete;

    // Do not leave the key in freed heap memory where a later dump could find it.
    ~JwtAuthenticator() override {
        mbedtls_platform_zeroize(options_.hs256_secret.data(), options_.hs256_secret.size());
    }

    Result<Claims> authenticate(const ConnectRequest& request) const override {
        if (request.token.empty()) return unauthenticated("missing token");
        Result<Claims> claims = jwt::verify_hs256(options_.hs256_secret, request.token,
                                                  jwt::now_seconds(), options_.leeway_seconds);
        if (!claims) return claims;
        if (options_.require_exp && claims->claims.find("exp") == nullptr) {
            return unauthenticated("token has no exp");
        }
        return claims;
    }

private:
    JwtOptions options_;  // immutable after construction: read from many threads
};

}  // namespace

Result<std::shared_ptr<Authenticator>> make_jwt_authenticator(JwtOptions options) {
    if (options.hs256_secret.empty()) {
        return invalid_argument("make_jwt_authenticator: hs256_secret must be non-empty");
    }
    // A negative leeway would silently shorten every token's life; it is a config mistake.
    if (options.leeway_seconds < 0) {
        return invalid_argument("make_jwt_authenticator: leeway_seconds must be >= 0");
    }
    return std::shared_ptr<Authenticator>(std::make_shared<JwtAuthenticator>(std::move(options)));
}

}  // namespace quckrt
