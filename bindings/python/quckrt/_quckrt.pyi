"""Type stubs for the native extension quckrt._quckrt (see quckrt.server for the API)."""

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

__version__: str

class Socket:
    """The handler's handle on one joined topic of one connection."""

    @property
    def topic(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def claims(self) -> Dict[str, Any]: ...
    @property
    def active(self) -> bool: ...
    def push(self, event: str, payload: Optional[Dict[str, Any]] = None) -> None: ...
    def broadcast(self, event: str, payload: Optional[Dict[str, Any]] = None) -> None: ...
    def broadcast_from(self, event: str, payload: Optional[Dict[str, Any]] = None) -> None: ...
    def broadcast_to(
        self, topic: str, event: str, payload: Optional[Dict[str, Any]] = None
    ) -> None: ...
    def responder(self) -> Responder: ...

class Responder:
    """Answers one client push later, from any thread (first reply wins)."""

    def reply(self, status: str = "ok", response: Optional[Dict[str, Any]] = None) -> bool: ...
    def ok(self, response: Optional[Dict[str, Any]] = None) -> bool: ...
    def error(self, reason: Any) -> bool: ...

class _Server:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        jwt_secret: str,
        loops: int,
        max_connections: int,
        max_channels_per_socket: int,
        max_frame_bytes: int,
        max_queued_bytes: int,
        rx_buffer_bytes: int,
        idle_timeout_ms: int,
        drain_timeout_ms: int,
        presence_broadcast_ms: int,
        admin_token: str,
        allowed_origins: List[str],
        socket_path: str,
        builtin_chat: bool,
        storage: str,
        queue_ttl_s: int,
        send_rate: float,
        resume_max_events: int,
        resume_max_age_s: int,
        replay_page: int,
        builtin_calls: bool,
        call_ring_timeout_s: float,
        call_grace_s: float,
        stun_server_url: str,
        turn_server_url: str,
        turn_username: str,
        turn_credential: str,
        builtin_huddles: bool,
        huddle_max_participants: int,
        huddle_grace_s: float,
        log_level: str,
        on_error: Optional[Callable[[str, str], Any]],
    ) -> None: ...
    def add_channel(self, pattern: str, factory: Callable[[], Any]) -> None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def broadcast(
        self, topic: str, event: str, payload: Optional[Mapping[str, Any]]
    ) -> None: ...
    @property
    def port(self) -> int: ...
    @property
    def connection_count(self) -> int: ...
    def presence_list(self, topic: str) -> Dict[str, Any]: ...
    def presence_user(self, user_id: str) -> Dict[str, Any]: ...
    def presence_is_online(self, user_id: str) -> bool: ...
    def presence_online_users(self, offset: int, limit: int) -> Tuple[List[str], int]: ...
    @property
    def running(self) -> bool: ...

def jwt_sign_hs256(secret: str, claims: Dict[str, Any]) -> str: ...
def jwt_verify_hs256(secret: str, token: str, now: int) -> Dict[str, Any]: ...
def _roundtrip_json(value: Any) -> Any: ...
