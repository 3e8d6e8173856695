"""HS256 JSON Web Tokens, as quckrt servers accept them.

A token is ``base64url(header).base64url(claims).base64url(HMAC-SHA256(secret, first two))``
with header ``{"alg":"HS256","typ":"JWT"}`` (RFC 7519, unpadded base64url). The server
requires a non-empty ``sub`` (the user id) and refuses expired (``exp``) or not-yet-valid
(``nbf``) tokens; a connection is closed with code 4001 when its token expires.

Example::

    from quckrt import tokens
    token = tokens.issue("dev-secret", "alice", ttl=3600, role="admin")
    claims = tokens.verify("dev-secret", token)   # {"sub": "alice", "iat": ..., "exp": ...}

Only the standard library is used (``hmac``, ``hashlib``). For string and integer claims,
tokens are byte-for-byte what the C++ library's ``quckrt::jwt::sign_hs256`` produces for the
same claims in the same order.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any, Dict, Optional, Union

from .errors import InvalidToken

__all__ = ["issue", "verify", "InvalidToken"]

_HEADER = {"alg": "HS256", "typ": "JWT"}
_MAX_TOKEN_BYTES = 8192  # the server refuses longer tokens too


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(segment: str, what: str) -> bytes:
    if "=" in segment:
        raise InvalidToken(f"{what} is padded; JWT segments are unpadded base64url")
    try:
        return base64.b64decode(segment + "=" * (-len(segment) % 4), altchars=b"-_",
                                validate=True)
    except (binascii.Error, ValueError):
        raise InvalidToken(f"{what} is not base64url") from None


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _secret_bytes(secret: Union[str, bytes]) -> bytes:
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not secret:
        raise ValueError("the secret must not be empty")
    return secret


def issue(
    secret: Union[str, bytes],
    sub: Union[str, int],
    ttl: Optional[float] = 3600,
    **claims: Any,
) -> str:
    """Sign a token for user ``sub``.

    Args:
        secret: the server's ``jwt_secret``.
        sub: the user id (non-empty string; an int is turned into its decimal text).
        ttl: seconds until ``exp``; None for a token that never expires. ``iat`` is always
            set to now.
        **claims: any other claims (JSON-serializable); they may override ``iat``, ``exp``
            and ``nbf``.

    Returns:
        The compact token (``header.payload.signature``).
    """
    key = _secret_bytes(secret)
    if isinstance(sub, bool) or not isinstance(sub, (str, int)):
        raise TypeError("sub must be a str (or an int)")
    sub = str(sub)
    if not sub:
        raise ValueError("sub must not be empty")
    now = int(time.time())
    body: Dict[str, Any] = {"sub": sub, "iat": now}
    if ttl is not None:
        body["exp"] = now + int(ttl)
    body.update(claims)
    signing_input = _b64url(_json(_HEADER)) + "." + _b64url(_json(body))
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64url(signature)


def verify(
    secret: Union[str, bytes],
    token: str,
    *,
    leeway: float = 0,
    now: Optional[float] = None,
) -> Dict[str, Any]:
    """Check a token the way the server does and return its claims.

    Checks, in order: three unpadded base64url segments, header ``alg`` exactly ``HS256``
    (``none`` and other algorithms are refused) and no ``crit``, the signature (constant
    time), ``exp`` (``now < exp + leeway``), ``nbf`` (``now + leeway >= nbf``), and a
    non-empty ``sub``.

    Raises:
        InvalidToken: with a message naming the failed check (never the token itself).
    """
    key = _secret_bytes(secret)
    if not isinstance(token, str):
        raise InvalidToken("token must be a str")
    if len(token) > _MAX_TOKEN_BYTES:
        raise InvalidToken("token too long")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise InvalidToken("malformed token: expected header.payload.signature")
    try:
        header = json.loads(_b64url_decode(parts[0], "header"))
        claims = json.loads(_b64url_decode(parts[1], "payload"))
    except (ValueError, UnicodeDecodeError) as e:
        if isinstance(e, InvalidToken):
            raise
        raise InvalidToken("token segments are not JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise InvalidToken("token header and payload must be JSON objects")
    if header.get("alg") != "HS256":
        raise InvalidToken(f"unsupported alg {header.get('alg')!r}; only HS256 is accepted")
    if "crit" in header:
        raise InvalidToken("crit header is not supported")
    expected = hmac.new(key, (parts[0] + "." + parts[1]).encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _b64url_decode(parts[2], "signature")):
        raise InvalidToken("bad signature")
    t = time.time() if now is None else now
    exp = claims.get("exp")
    if exp is not None:
        if isinstance(exp, bool) or not isinstance(exp, (int, float)):
            raise InvalidToken("exp must be a number")
        if not t < exp + leeway:
            raise InvalidToken("token expired")
    nbf = claims.get("nbf")
    if nbf is not None:
        if isinstance(nbf, bool) or not isinstance(nbf, (int, float)):
            raise InvalidToken("nbf must be a number")
        if not t + leeway >= nbf:
            raise InvalidToken("token not valid yet (nbf)")
    sub = claims.get("sub")
    if isinstance(sub, int) and not isinstance(sub, bool):
        claims["sub"] = str(sub)
    elif not isinstance(sub, str) or not sub:
        raise InvalidToken("sub claim missing or empty")
    return claims
