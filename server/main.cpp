// quckrt-server: flags and environment -> ServerOptions -> Server. Nothing else lives here.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <pthread.h>

#include <quckrt/auth.hpp>
#include <quckrt/server.hpp>

#include "options.hpp"

namespace {

const char* env(const char* name) { return std::getenv(name); }

// `quckrt-server token --sub USER [--ttl S] [--jwt-secret S]`: a development token.
int run_token(const std::vector<std::string>& args) {
    std::string sub, secret = env("JWT_SECRET") ? env("JWT_SECRET") : "";
    int64_t ttl = 3600;
    for (size_t i = 0; i + 1 < args.size(); i += 2) {
        if (args[i] == "--sub") sub = args[i + 1];
        else if (args[i] == "--ttl") ttl = std::atoll(args[i + 1].c_str());
        else if (args[i] == "--jwt-secret") secret = args[i + 1];
        else {
            std::cerr << "token: unknown option " << args[i] << "\n";
            return 2;
        }
    }
    if (args.size() % 2 != 0 || sub.empty() || secret.empty() || ttl <= 0) {
        std::cerr << "usage: quckrt-server token --sub USER [--ttl SECONDS] [--jwt-secret SECRET]"
                     "\n(the secret defaults to $JWT_SECRET)\n";
        return 2;
    }
    auto token = quckrt::jwt::sign_hs256(
        secret, quckrt::Json::object({{"sub", sub}, {"exp", quckrt::jwt::now_seconds() + ttl}}));
    if (!token) {
        std::cerr << "token: " << token.error().to_string() << "\n";
        return 1;
    }
    std::cout << *token << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && args[0] == "token") return run_token({args.begin() + 1, args.end()});

    auto config = quckrt::cli::parse_config(args, env);
    if (!config) {
        std::cerr << "quckrt-server: " << config.error().message() << "\n";
        return 2;
    }
    if (config->help) {
        std::cout << quckrt::cli::usage();
        return 0;
    }
    // Logs to stderr; stdout carries only the "listening on" line that scripts wait for.
    spdlog::set_default_logger(spdlog::stderr_color_mt("quckrt"));
    spdlog::set_level(spdlog::level::from_str(config->log_level));
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z level=%l %v");

    // Signals are taken synchronously by this thread (sigwait), so every loop thread
    // inherits the blocked mask and none is interrupted mid-callback.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    if (config->server.jwt_secret.empty()) {
        std::cerr << "quckrt-server: JWT_SECRET (or --jwt-secret) is required\n";
        return 2;
    }
    auto server = quckrt::Server::create(config->server);
    if (!server) {
        std::cerr << "quckrt-server: " << server.error().message() << "\n";
        return 2;
    }
    if (auto st = (*server)->start(); !st.ok()) {
        std::cerr << "quckrt-server: " << st.message() << "\n";
        return 1;
    }
    std::cout << "quckrt-server listening on http://" << config->server.host << ":"
              << (*server)->port() << std::endl;

    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::warn("event=shutdown signal={}", sig);
    (*server)->stop();
    (*server)->wait();
    return 0;
}
