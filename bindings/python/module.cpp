// quckrt._quckrt: the pybind11 extension behind the `quckrt` Python package. User-facing
// documentation lives in the Python modules (quckrt/server.py wraps _Server); this file only
// registers the types. See py_server.hpp for the GIL rules.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <quckrt/auth.hpp>

#include "json_convert.hpp"
#include "py_channel.hpp"
#include "py_server.hpp"

namespace py = pybind11;
using quckrt::python::from_json;
using quckrt::python::raise_status;
using quckrt::python::to_json;

namespace {

// The library logs through spdlog's default logger, which writes to stdout; a Python host's
// stdout is its own (like quckrt-server's). Unless the process already set a logger, send
// the library's lines to stderr, in the server binary's format.
void log_to_stderr() {
    if (!spdlog::default_logger()->name().empty() || spdlog::get("quckrt")) return;
    spdlog::set_default_logger(spdlog::stderr_color_mt("quckrt"));
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z level=%l %v");
}

}  // namespace

PYBIND11_MODULE(_quckrt, m) {
    m.doc() = "Native part of quckrt: the embedded server (use quckrt.Server).";
    log_to_stderr();
    m.attr("__version__") = QUCKRT_VERSION;

    quckrt::python::bind_channel_types(m);
    quckrt::python::bind_server(m);

    // The library's own HS256 signer and verifier, so tests can check that quckrt.tokens
    // (pure Python) agrees with what the server accepts.
    m.def(
        "jwt_sign_hs256",
        [](const std::string& secret, py::handle claims) {
            quckrt::Json json = to_json(claims);
            auto token = quckrt::jwt::sign_hs256(secret, json);
            if (!token) raise_status(token.error());
            return *token;
        },
        py::arg("secret"), py::arg("claims"),
        "Sign `claims` (a dict) with the C++ library's HS256 signer.");
    m.def(
        "jwt_verify_hs256",
        [](const std::string& secret, const std::string& token, int64_t now) {
            auto claims = quckrt::jwt::verify_hs256(secret, token, now);
            if (!claims) raise_status(claims.error());
            return from_json(claims->claims);
        },
        py::arg("secret"), py::arg("token"), py::arg("now"),
        "Verify with the C++ library (the server's check); returns the claims or raises "
        "quckrt.UnauthenticatedError.");
    m.def(
        "_roundtrip_json", [](py::handle value) { return from_json(to_json(value)); },
        py::arg("value"), "Test helper: Python -> quckrt::Json -> Python.");
}
