// quckrt._quckrt._Server: the C++ side of quckrt.Server (see quckrt/server.py for the user
// API). It keeps the options and channel registrations and builds a fresh quckrt::Server on
// every start(), so a Python Server can be stopped and started again.
//
// GIL rules: start(), stop() and broadcast() release the GIL around the C++ calls. stop()
// and the destructor wait for the loops with the GIL released, so a loop thread that is
// waiting for the GIL (to run a Python handler) can finish; called from a loop thread (a
// handler stopping its own server) stop() only begins the drain and never waits.
#pragma once

#include <pybind11/pybind11.h>

#include <memory>
#include <quckrt/server.hpp>
#include <string>
#include <utility>
#include <vector>

#include "py_channel.hpp"

namespace quckrt::python {

class PyServer {
  public:
    // options are validated here (quckrt::Server::create); failures raise quckrt.Error
    // subclasses. on_error(code: str, message: str) may be None.
    PyServer(ServerOptions options, std::string log_level, pybind11::object on_error);
    ~PyServer();
    PyServer(const PyServer&) = delete;
    PyServer& operator=(const PyServer&) = delete;

    void add_channel(const std::string& pattern, pybind11::object factory);
    void start();
    void stop();
    void broadcast(const std::string& topic, const std::string& event, pybind11::handle payload);
    int port() const;
    int connection_count() const;
    // Presence reads (the GIL is released while the C++ side takes its lock).
    pybind11::object presence_list(const std::string& topic) const;
    pybind11::object presence_user(const std::string& user_id) const;
    bool presence_is_online(const std::string& user_id) const;
    pybind11::object presence_online_users(size_t offset, size_t limit) const;
    bool running() const { return server_ != nullptr; }

  private:
    Result<std::unique_ptr<Server>> build() const;
    void finish_draining();

    ServerOptions options_;
    std::string log_level_;
    std::vector<std::pair<std::string, std::shared_ptr<PyRef>>> channels_;
    std::shared_ptr<Server> server_;                 // running
    std::unique_ptr<Server> prepared_;               // created (validated) but not started
    std::vector<std::shared_ptr<Server>> draining_;  // stopped from a loop thread
    int last_port_ = 0;
};

// raise_status(status): raise the quckrt.errors class for status.code() with its message.
[[noreturn]] void raise_status(const Status& status);

void bind_server(pybind11::module_& m);

}  // namespace quckrt::python
