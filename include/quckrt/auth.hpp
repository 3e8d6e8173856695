// quckrt/auth.hpp
//
// Who is connecting. Every WebSocket connection is authenticated once, at the HTTP upgrade,
// by an Authenticator; what it returns (Claims) is attached to the connection, and the user
// id in it is the sender of everything that connection does. A client can never name
// another sender.
//
// quckrt ships a JWT authenticator (HS256 through mbedTLS). Tokens are refused when they are
// missing, malformed, signed with another key or algorithm (`alg: none` and algorithm
// confusion included), expired (`exp`) or not yet valid (`nbf`). A connection whose token
// expires while connected is closed (CloseCode::token_expired).
//
// Thread affinity: an Authenticator is called from every loop thread at once; it must be
// thread-safe and must not block (no network calls: verify locally).
//
// Example:
//   auto auth = quckrt::make_jwt_authenticator({.hs256_secret = "s3cret"});
//   std::string token = *quckrt::jwt::sign_hs256("s3cret", quckrt::Json::object({
//       {"sub", "alice"}, {"exp", quckrt::jwt::now_seconds() + 3600}}));
//   auto claims = auth->authenticate({.token = token});   // claims->user_id == "alice"
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <quckrt/json.hpp>
#include <quckrt/status.hpp>

namespace quckrt {

// Claims: the verified identity of a connection.
struct Claims {
    std::string user_id{};  // JWT `sub`; never empty for an accepted connection
    int64_t expires_at = 0;  // unix seconds (`exp`); 0 = never expires
    Json claims{};          // the whole verified claim set, for host code that wants more
};

// ConnectRequest: what the authenticator may look at. Fields are views into the request and
// are valid only during authenticate().
struct ConnectRequest {
    std::string_view token{};       // from `token` query param or the phoenix.js authToken
    std::string_view origin{};      // Origin header, may be empty
    std::string_view user_agent{};  // User-Agent header, may be empty
    std::string_view peer{};        // peer IP address as text
};

// Authenticator: token -> Claims. Return unauthenticated (HTTP 401) for a missing or
// invalid token and permission_denied (HTTP 403) for a valid token that may not connect.
class Authenticator {
public:
    virtual ~Authenticator() = default;
    virtual Result<Claims> authenticate(const ConnectRequest& request) const = 0;
};

struct JwtOptions {
    std::string hs256_secret{};  // shared secret; must be non-empty
    int64_t leeway_seconds = 0;  // clock skew tolerated on exp/nbf
    bool require_exp = false;  // refuse tokens without `exp`
};

// make_jwt_authenticator: an HS256 JWT authenticator. Fails with invalid_argument when the
// secret is empty.
Result<std::shared_ptr<Authenticator>> make_jwt_authenticator(JwtOptions options);

namespace jwt {

// now_seconds(): the current unix time in seconds (system clock).
int64_t now_seconds();

// sign_hs256(secret, claims): a compact JWS `header.payload.signature` with header
// {"alg":"HS256","typ":"JWT"}. claims must be an object.
Result<std::string> sign_hs256(std::string_view secret, const Json& claims);

// verify_hs256(secret, token, now, leeway): checks structure, header alg == "HS256"
// exactly, the signature (constant-time), `exp` (now < exp + leeway) and `nbf`
// (now + leeway >= nbf); `sub` must be a non-empty string (an integer `sub` is accepted as
// its decimal text). Segments must be unpadded base64url (RFC 7515); a `crit` header and
// tokens over 8 KiB are refused. Returns the claims or unauthenticated with a reason that
// names the failed check but never echoes the token.
Result<Claims> verify_hs256(std::string_view secret, std::string_view token, int64_t now,
                            int64_t leeway_seconds = 0);

// base64url_encode / base64_decode_any: helpers shared with the phoenix.js authToken
// subprotocol. The decoder accepts both the standard and the url-safe alphabet, with or
// without `=` padding, and fails on anything else.
std::string base64url_encode(std::string_view bytes);
Result<std::string> base64_decode_any(std::string_view text);

}  // namespace jwt
}  // namespace quckrt
