// Command line and environment -> ServerOptions for quckrt-server. Flags win over the
// environment, which wins over the defaults in ServerOptions.
#pragma once

#include <string>
#include <vector>

#include <quckrt/server.hpp>
#include <quckrt/status.hpp>

namespace quckrt::cli {

struct Config {
    ServerOptions server;
    std::string log_level = "warn";
    bool help = false;
};

// parse_config(args, getenv): args excludes the program name. Errors name the flag or
// variable and the expected form.
Result<Config> parse_config(const std::vector<std::string>& args,
                            const char* (*getenv_fn)(const char*));

// usage(): the --help text, listing every flag with its environment variable and default.
std::string usage();

}  // namespace quckrt::cli
