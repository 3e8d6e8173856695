// Tokens for bench connections: HS256 JWTs signed with the server's secret.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace quckrt::bench {

// user_id(index): the user id of bench connection `index`, "u<index>". Each connection is
// its own user, so the server's per-user state grows as it would with real clients.
std::string user_id(uint64_t index);

// make_token(secret, subject, token, error): {"sub": subject, "exp": now + 3600} signed
// with quckrt's own signer, so the bench exercises exactly what the server verifies.
// Returns false with error set when signing fails.
bool make_token(std::string_view secret, std::string_view subject, std::string& token,
                std::string& error);

}  // namespace quckrt::bench
