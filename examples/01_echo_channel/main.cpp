// Embedding quckrt: a host application registers its own channel and runs the server.
//
//   ./quckrt-example-echo 4000 dev-secret
//   (any phoenix.js client: new Socket("ws://127.0.0.1:4000/socket", {params: {token}}))
//
// `echo:*` topics: join is refused for "echo:private"; push "echo" replies with the payload;
// push "shout" broadcasts it to every subscriber of the topic.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <pthread.h>

#include <quckrt/quckrt.hpp>

namespace {

class EchoChannel final : public quckrt::Channel {
public:
    quckrt::JoinResult join(const quckrt::Json&, quckrt::Socket& socket) override {
        if (socket.topic() == "echo:private") return quckrt::JoinResult::error("unauthorized");
        return quckrt::JoinResult::ok(quckrt::Json::object({{"welcome", socket.user().user_id}}));
    }

    quckrt::Reply handle_in(const quckrt::InMessage& m, quckrt::Socket& socket) override {
        if (m.event == "echo") return quckrt::Reply::ok(m.payload);
        if (m.event == "shout") {
            socket.broadcast("shout", m.payload);
            return quckrt::Reply::ok();
        }
        return Channel::handle_in(m, socket);
    }
};

}  // namespace

int main(int argc, char** argv) {
    const int port = argc > 1 ? std::atoi(argv[1]) : 4000;
    const std::string secret = argc > 2 ? argv[2] : "dev-secret";

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    auto server = quckrt::Server::create(
        {.port = port, .loops = 1, .jwt_secret = secret, .builtin_chat = false});
    if (!server) {
        std::cerr << server.error().to_string() << "\n";
        return 1;
    }
    (*server)->channel("echo:*", [] { return std::make_unique<EchoChannel>(); });
    if (auto st = (*server)->start(); !st.ok()) {
        std::cerr << st.to_string() << "\n";
        return 1;
    }
    auto token = quckrt::jwt::sign_hs256(secret, quckrt::Json::object({{"sub", "demo"}}));
    std::cout << "listening on ws://127.0.0.1:" << (*server)->port() << "/socket/websocket\n"
              << "token for user 'demo': " << *token << std::endl;
    int sig = 0;
    sigwait(&signals, &sig);
    (*server)->stop();
    (*server)->wait();
    return 0;
}
