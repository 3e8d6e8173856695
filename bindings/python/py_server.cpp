#include "py_server.hpp"

#include <pybind11/stl.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "json_convert.hpp"

namespace py = pybind11;

namespace quckrt::python {
namespace {

// stop_and_wait: the GIL must not be held; loop threads may need it to finish callbacks.
void stop_and_wait(std::shared_ptr<Server>& server) {
    server->stop();
    server->wait();
    server.reset();
}

}  // namespace

void raise_status(const Status& status) {
    py::object errors = py::module_::import("quckrt.errors");
    py::object exc =
        errors.attr("_from_status")(std::string(to_string(status.code())), status.message());
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
    throw py::error_already_set();
}

PyServer::PyServer(ServerOptions options, std::string log_level, py::object on_error)
    : options_(std::move(options)), log_level_(std::move(log_level)) {
    if (!on_error.is_none()) {
        auto callback = std::make_shared<PyRef>(std::move(on_error));
        options_.on_error = [callback](const Status& status) {
            if (!Py_IsInitialized()) return;
            py::gil_scoped_acquire gil;
            CallbackScope scope;
            try {
                callback->obj(std::string(to_string(status.code())), status.message());
            } catch (py::error_already_set& e) {
                e.discard_as_unraisable("quckrt.Server on_error");
            }
        };
    }
    auto level = spdlog::level::from_str(log_level_);
    if (log_level_ != "off" && level == spdlog::level::off) {
        PyErr_SetString(
            PyExc_ValueError,
            ("log_level must be trace, debug, info, warn, error or off; got '" + log_level_ + "'")
                .c_str());
        throw py::error_already_set();
    }
    auto created = build();
    if (!created) raise_status(created.error());
    prepared_ = std::move(*created);
    last_port_ = options_.port;
}

PyServer::~PyServer() {
    if (!server_ && draining_.empty()) return;
    if (in_loop_callback()) {
        // The last reference went away inside a handler on a loop thread: this thread cannot
        // wait for its own loop to end. Begin the drain and leave the servers to the process.
        if (server_) server_->stop();
        for (auto& s : draining_) new std::shared_ptr<Server>(std::move(s));  // intentional
        if (server_) new std::shared_ptr<Server>(std::move(server_));
        return;
    }
    std::shared_ptr<Server> server = std::move(server_);
    std::vector<std::shared_ptr<Server>> draining = std::move(draining_);
    py::gil_scoped_release release;
    if (server) stop_and_wait(server);
    for (auto& s : draining) stop_and_wait(s);
}

Result<std::unique_ptr<Server>> PyServer::build() const {
    auto created = Server::create(options_);
    if (!created) return created.error();
    for (const auto& [pattern, factory] : channels_)
        (*created)->channel(pattern, make_channel_factory(factory));
    return created;
}

void PyServer::add_channel(const std::string& pattern, py::object factory) {
    if (server_) raise_status(failed_precondition("register channels before start()"));
    if (pattern.empty()) raise_status(invalid_argument("channel pattern must not be empty"));
    auto ref = std::make_shared<PyRef>(std::move(factory));
    channels_.emplace_back(pattern, ref);
    if (prepared_) prepared_->channel(pattern, make_channel_factory(ref));
}

void PyServer::finish_draining() {
    if (draining_.empty() || in_loop_callback()) return;
    std::vector<std::shared_ptr<Server>> draining = std::move(draining_);
    draining_.clear();
    py::gil_scoped_release release;
    for (auto& s : draining) stop_and_wait(s);
}

void PyServer::start() {
    if (server_) raise_status(failed_precondition("server already started"));
    finish_draining();
    std::unique_ptr<Server> server = std::move(prepared_);
    if (!server) {
        auto created = build();
        if (!created) raise_status(created.error());
        server = std::move(*created);
    }
    if (log_level_ == "off") {
        spdlog::set_level(spdlog::level::off);
    } else {
        spdlog::set_level(spdlog::level::from_str(log_level_));
    }
    Status status;
    {
        py::gil_scoped_release release;
        status = server->start();
        if (!status.ok()) server.reset();  // nothing runs; destroying it needs no GIL
    }
    if (!status.ok()) raise_status(status);
    last_port_ = server->port();
    server_ = std::shared_ptr<Server>(std::move(server));
}

void PyServer::stop() {
    std::shared_ptr<Server> server = std::move(server_);
    server_.reset();
    if (!server) {
        finish_draining();
        return;
    }
    if (in_loop_callback()) {
        server->stop();  // begin the drain; a later stop() from another thread waits
        draining_.push_back(std::move(server));
        return;
    }
    {
        py::gil_scoped_release release;
        stop_and_wait(server);
    }
    finish_draining();
}

void PyServer::broadcast(const std::string& topic, const std::string& event, py::handle payload) {
    Json json = payload.is_none() ? Json::object() : to_json(payload);
    if (!json.is_object()) {
        PyErr_SetString(PyExc_TypeError, "broadcast payload must be a dict");
        throw py::error_already_set();
    }
    std::shared_ptr<Server> server = server_;
    if (!server) raise_status(failed_precondition("server is not running"));
    py::gil_scoped_release release;
    server->broadcast(topic, event, json);
    server.reset();  // may be the last reference (stop() ran meanwhile): drop it without GIL
}

int PyServer::port() const { return server_ ? server_->port() : last_port_; }

int PyServer::connection_count() const { return server_ ? server_->connection_count() : 0; }

namespace {
std::shared_ptr<Server> running_or_raise(const std::shared_ptr<Server>& server) {
    if (!server) raise_status(failed_precondition("server is not running"));
    return server;
}
}  // namespace

py::object PyServer::presence_list(const std::string& topic) const {
    std::shared_ptr<Server> server = running_or_raise(server_);
    Json list;
    {
        py::gil_scoped_release release;
        list = server->presence().list(topic);
    }
    return from_json(list);
}

py::object PyServer::presence_user(const std::string& user_id) const {
    std::shared_ptr<Server> server = running_or_raise(server_);
    UserPresence p;
    {
        py::gil_scoped_release release;
        p = server->presence().user(user_id);
    }
    py::dict out;
    out["user_id"] = p.user_id;
    out["online"] = p.online;
    out["metas"] = from_json(p.metas);
    out["last_seen_ms"] = p.last_seen_ms ? py::object(py::int_(p.last_seen_ms)) : py::none();
    return out;
}

bool PyServer::presence_is_online(const std::string& user_id) const {
    std::shared_ptr<Server> server = running_or_raise(server_);
    py::gil_scoped_release release;
    return server->presence().is_online(user_id);
}

py::object PyServer::presence_online_users(size_t offset, size_t limit) const {
    std::shared_ptr<Server> server = running_or_raise(server_);
    std::vector<std::string> users;
    size_t total = 0;
    {
        py::gil_scoped_release release;
        users = server->presence().online_users(offset, limit, &total);
    }
    return py::make_tuple(py::cast(users), total);
}

void bind_server(py::module_& m) {
    py::class_<PyServer>(m, "_Server", "Internal: the C++ server behind quckrt.Server.")
        .def(py::init([](std::string host, int port, std::string jwt_secret, int loops,
                         int max_connections, int max_channels_per_socket, size_t max_frame_bytes,
                         size_t max_queued_bytes, size_t rx_buffer_bytes, int64_t idle_timeout_ms,
                         int64_t drain_timeout_ms, int64_t presence_broadcast_ms,
                         std::string admin_token, std::vector<std::string> allowed_origins,
                         std::string socket_path, bool builtin_chat, std::string storage,
                         int64_t queue_ttl_s, double send_rate, int64_t resume_max_events, int64_t resume_max_age_s, size_t replay_page, bool builtin_calls, double call_ring_timeout_s, double call_grace_s, std::string stun_server_url, std::string turn_server_url, std::string turn_username, std::string turn_credential, bool builtin_huddles, int huddle_max_participants, double huddle_grace_s,
                         std::string log_level, py::object on_error) {
                 ServerOptions o;
                 o.host = std::move(host);
                 o.port = port;
                 o.jwt_secret = std::move(jwt_secret);
                 o.loops = loops;
                 o.max_connections = max_connections;
                 o.max_channels_per_socket = max_channels_per_socket;
                 o.max_frame_bytes = max_frame_bytes;
                 o.max_queued_bytes = max_queued_bytes;
                 o.rx_buffer_bytes = rx_buffer_bytes;
                 o.idle_timeout = std::chrono::milliseconds(idle_timeout_ms);
                 o.drain_timeout = std::chrono::milliseconds(drain_timeout_ms);
                 o.presence_broadcast_ms = std::chrono::milliseconds(presence_broadcast_ms);
                 o.admin_token = std::move(admin_token);
                 o.allowed_origins = std::move(allowed_origins);
                 o.socket_path = std::move(socket_path);
                 o.builtin_chat = builtin_chat;
                 o.storage = std::move(storage);
                 o.queue_ttl = std::chrono::milliseconds(queue_ttl_s * 1000);
                 o.send_rate_per_second = send_rate;
                 o.send_burst = send_rate * 3;
                 o.resume_max_events = resume_max_events;
                 o.resume_max_age = std::chrono::milliseconds(resume_max_age_s * 1000);
                 o.replay_page = replay_page;
                 o.builtin_calls = builtin_calls;
                 o.call_ring_timeout = std::chrono::milliseconds(static_cast<int64_t>(call_ring_timeout_s * 1000));
                 o.call_grace = std::chrono::milliseconds(static_cast<int64_t>(call_grace_s * 1000));
                 o.stun_server_url = std::move(stun_server_url);
                 o.turn_server_url = std::move(turn_server_url);
                 o.turn_username = std::move(turn_username);
                 o.turn_credential = std::move(turn_credential);
                 o.builtin_huddles = builtin_huddles;
                 o.huddle_max_participants = huddle_max_participants;
                 o.huddle_grace = std::chrono::milliseconds(static_cast<int64_t>(huddle_grace_s * 1000));
                 return std::make_unique<PyServer>(std::move(o), std::move(log_level),
                                                   std::move(on_error));
             }),
             py::kw_only(), py::arg("host"), py::arg("port"), py::arg("jwt_secret"),
             py::arg("loops"), py::arg("max_connections"), py::arg("max_channels_per_socket"),
             py::arg("max_frame_bytes"), py::arg("max_queued_bytes"), py::arg("rx_buffer_bytes"),
             py::arg("idle_timeout_ms"), py::arg("drain_timeout_ms"),
             py::arg("presence_broadcast_ms"), py::arg("admin_token"), py::arg("allowed_origins"),
             py::arg("socket_path"), py::arg("builtin_chat"), py::arg("storage"),
             py::arg("queue_ttl_s"), py::arg("send_rate"), py::arg("resume_max_events"), py::arg("resume_max_age_s"), py::arg("replay_page"), py::arg("builtin_calls"), py::arg("call_ring_timeout_s"), py::arg("call_grace_s"), py::arg("stun_server_url"), py::arg("turn_server_url"), py::arg("turn_username"), py::arg("turn_credential"), py::arg("builtin_huddles"), py::arg("huddle_max_participants"), py::arg("huddle_grace_s"),
             py::arg("log_level"),
             py::arg("on_error"))
        .def("add_channel", &PyServer::add_channel, py::arg("pattern"), py::arg("factory"))
        .def("start", &PyServer::start)
        .def("stop", &PyServer::stop)
        .def("broadcast", &PyServer::broadcast, py::arg("topic"), py::arg("event"),
             py::arg("payload"))
        .def_property_readonly("port", &PyServer::port)
        .def_property_readonly("connection_count", &PyServer::connection_count)
        .def("presence_list", &PyServer::presence_list, py::arg("topic"))
        .def("presence_user", &PyServer::presence_user, py::arg("user_id"))
        .def("presence_is_online", &PyServer::presence_is_online, py::arg("user_id"))
        .def("presence_online_users", &PyServer::presence_online_users, py::arg("offset"),
             py::arg("limit"))
        .def_property_readonly("running", &PyServer::running);
}

}  // namespace quckrt::python
