"""quckrt.tokens: HS256 issue/verify, and agreement with the C++ library and the server."""

import base64
import hashlib
import hmac
import json
import time

import pytest

import quckrt
from quckrt import _quckrt, tokens

SECRET = "token-test-secret"


def b64(obj) -> str:
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign(header, claims, secret=SECRET) -> str:
    signing_input = b64(header) + "." + b64(claims)
    sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()


def test_issue_verify_round_trip_with_extra_claims():
    token = tokens.issue(SECRET, "alice", ttl=60, role="admin", rooms=["a", "b"])
    claims = tokens.verify(SECRET, token)
    assert claims["sub"] == "alice"
    assert claims["role"] == "admin"
    assert claims["rooms"] == ["a", "b"]
    assert claims["exp"] - claims["iat"] == 60
    assert abs(claims["iat"] - time.time()) < 5


def test_ttl_none_means_no_expiry_and_int_sub_becomes_text():
    claims = tokens.verify(SECRET, tokens.issue(SECRET, 42, ttl=None))
    assert claims["sub"] == "42"
    assert "exp" not in claims


def test_tampered_payload_is_refused():
    token = tokens.issue(SECRET, "alice")
    header, _, sig = token.split(".")
    forged = header + "." + b64({"sub": "mallory", "iat": 0}) + "." + sig
    with pytest.raises(quckrt.InvalidToken, match="bad signature"):
        tokens.verify(SECRET, forged)


def test_tampered_signature_and_wrong_secret_are_refused():
    token = tokens.issue(SECRET, "alice")
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(quckrt.InvalidToken):
        tokens.verify(SECRET, flipped)
    with pytest.raises(quckrt.InvalidToken, match="bad signature"):
        tokens.verify("another-secret", token)


@pytest.mark.parametrize("token, message", [
    ("", "malformed"),
    ("a.b", "malformed"),
    ("a.b.c.d", "malformed"),
    (b64({"alg": "none"}) + "." + b64({"sub": "x"}) + ".", "malformed"),
    (sign({"alg": "HS512", "typ": "JWT"}, {"sub": "x"}), "unsupported alg"),
    (sign({"alg": "HS256", "crit": ["x"]}, {"sub": "x"}), "crit"),
    (sign({"alg": "HS256"}, {"sub": "x", "exp": int(time.time()) - 10}), "expired"),
    (sign({"alg": "HS256"}, {"sub": "x", "nbf": int(time.time()) + 600}), "not valid yet"),
    (sign({"alg": "HS256"}, {"iat": 1}), "sub"),
    (sign({"alg": "HS256"}, {"sub": ""}), "sub"),
    (sign({"alg": "HS256"}, {"sub": "x"}) + "=", "padded"),
])
def test_refusals_name_the_failed_check(token, message):
    with pytest.raises(quckrt.InvalidToken, match=message):
        tokens.verify(SECRET, token)


def test_leeway_applies_to_exp():
    token = sign({"alg": "HS256"}, {"sub": "x", "exp": int(time.time()) - 5})
    assert tokens.verify(SECRET, token, leeway=30)["sub"] == "x"


def test_invalid_token_is_a_value_error_and_a_quckrt_error():
    with pytest.raises(ValueError):
        tokens.verify(SECRET, "nope")
    assert issubclass(quckrt.InvalidToken, quckrt.Error)


def test_issue_rejects_bad_inputs():
    with pytest.raises(ValueError):
        tokens.issue("", "alice")
    with pytest.raises(ValueError):
        tokens.issue(SECRET, "")
    with pytest.raises(TypeError):
        tokens.issue(SECRET, None)  # type: ignore[arg-type]


def test_python_tokens_match_the_cpp_signer_byte_for_byte():
    claims = {"sub": "alice", "iat": 1700000000, "exp": 1800000000, "role": "admin"}
    ours = tokens.issue(SECRET, "alice", ttl=None, iat=1700000000, exp=1800000000,
                        role="admin")
    assert ours == _quckrt.jwt_sign_hs256(SECRET, claims)


def test_cpp_verifier_accepts_python_tokens_and_python_accepts_cpp_tokens():
    now = int(time.time())
    ours = tokens.issue(SECRET, "bob", ttl=60, team="blue")
    assert _quckrt.jwt_verify_hs256(SECRET, ours, now)["team"] == "blue"
    theirs = _quckrt.jwt_sign_hs256(SECRET, {"sub": "carol", "exp": now + 60})
    assert tokens.verify(SECRET, theirs)["sub"] == "carol"


def test_cpp_verifier_refuses_tampered_python_tokens():
    token = tokens.issue(SECRET, "alice")
    header, _, sig = token.split(".")
    forged = header + "." + b64({"sub": "mallory"}) + "." + sig
    with pytest.raises(quckrt.UnauthenticatedError):
        _quckrt.jwt_verify_hs256(SECRET, forged, int(time.time()))


def test_server_accepts_issued_tokens_and_refuses_tampered_ones(server, clients):
    client = clients(server.url, server.issue_token("dora"))
    assert client.connected
    header, _, sig = server.issue_token("dora").split(".")
    forged = header + "." + b64({"sub": "mallory"}) + "." + sig
    with pytest.raises(quckrt.TokenRefused) as err:
        clients(server.url, forged)
    assert err.value.status == 401
