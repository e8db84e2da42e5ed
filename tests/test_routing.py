"""Tests for trioproto._routing: patterns, resolution order and HTTP answers."""

from __future__ import annotations

import pytest

from trioproto import HttpResponse, InvalidHandshake, Registry, Router, UpgradeTo
from trioproto._routing import HttpMatch, WebSocketMatch, compile_pattern, split_target
from trioproto._sansio._http import Headers, Request

UPGRADE = [("Upgrade", "websocket")]


def req(method: str = "GET", headers: list[tuple[str, str]] = UPGRADE) -> Request:
    return Request(method, "/", "HTTP/1.1", Headers(headers))


async def handler(request: object) -> HttpResponse:  # pragma: no cover - not called here
    return HttpResponse()


@pytest.mark.parametrize(
    ("pattern", "path", "params"),
    [
        ("/ws/quotes/{name}", "/ws/quotes/ACME", {"name": "ACME"}),
        ("/a/{x}/b/{y}", "/a/1/b/2", {"x": "1", "y": "2"}),
        ("/a.b", "/a.b", {}),
        ("/a.b", "/aXb", None),
        ("/ws/{name}", "/ws/a/b", None),
        ("/ws/{name}", "/ws/", None),
    ],
)
def test_patterns(pattern: str, path: str, params: dict[str, str] | None) -> None:
    match = compile_pattern(pattern).fullmatch(path)
    assert (match.groupdict() if match else None) == params


@pytest.mark.parametrize("pattern", ["no-slash", "/{x}/{x}"])
def test_bad_patterns(pattern: str) -> None:
    with pytest.raises(ValueError, match=r"route pattern|appears twice"):
        compile_pattern(pattern)


def test_split_target() -> None:
    assert split_target("/a%20b?x=1&x=2&y=") == ("/a b", {"x": ["1", "2"], "y": [""]})
    assert split_target("http://host/p?q=1") == ("/p", {"q": ["1"]})
    assert split_target("") == ("/", {})


def test_split_target_refuses_an_unbalanced_ip_literal() -> None:
    """urlsplit raises ValueError on ``http://[::1``: the answer is a 400 (found by stress)."""
    with pytest.raises(InvalidHandshake) as caught:
        split_target("http://[::1/chat")
    assert caught.value.http_status == 400


def test_resolution() -> None:
    registry = Registry()
    router = Router()
    router.websocket("/ws/{room}", registry)
    router.get("/status")(handler)
    router.route("/form", methods=["post"])(handler)
    match = router.resolve(req(), "/ws/lobby")
    assert isinstance(match, WebSocketMatch)
    assert match.registry is registry
    assert dict(match.path_params) == {"room": "lobby"}
    assert isinstance(router.resolve(req(headers=[]), "/status"), HttpMatch)
    assert isinstance(router.resolve(req("HEAD", []), "/status"), HttpMatch)
    assert isinstance(router.resolve(req("POST", []), "/form"), HttpMatch)
    # A non-GET on a WebSocket route goes to the handshake, which answers 405.
    assert isinstance(router.resolve(req("POST"), "/ws/x"), WebSocketMatch)


@pytest.mark.parametrize(
    ("method", "headers", "path", "status", "header"),
    [
        ("GET", [], "/ws/lobby", 426, ("Upgrade", "websocket")),
        ("DELETE", [], "/status", 405, ("Allow", "GET, HEAD")),
        ("GET", [], "/missing", 404, None),
    ],
)
def test_refusals(
    method: str,
    headers: list[tuple[str, str]],
    path: str,
    status: int,
    header: tuple[str, str] | None,
) -> None:
    router = Router()
    router.websocket("/ws/{room}", Registry())
    router.get("/status")(handler)
    with pytest.raises(InvalidHandshake) as info:
        router.resolve(req(method, headers), path)
    assert info.value.http_status == status
    if header is not None:
        assert header in info.value.headers


def test_responses_and_upgrade_to() -> None:
    assert HttpResponse.text("é").body == "é".encode()
    assert HttpResponse.json({"a": 1}).body == b'{"a": 1}'
    assert HttpResponse.html("<p>").headers == (("Content-Type", "text/html; charset=utf-8"),)
    registry = UpgradeTo(handler, subprotocol="chat").registry()  # type: ignore[arg-type]
    assert registry.select(["chat"]).subprotocol == "chat"
    assert registry.select(["other"]).subprotocol is None
    assert registry.select([]).subprotocol is None


def test_websocket_default_serves_the_paths_no_route_matches() -> None:
    fallback, rooms = Registry(), Registry()
    router = Router()
    router.websocket("/rooms/{name}", rooms)
    router.get("/status")(handler)
    router.websocket_default(fallback)
    assert router.resolve(req(), "/rooms/a") == WebSocketMatch(
        rooms, {"name": "a"}, "/rooms/{name}"
    )
    assert router.resolve(req(), "/anything/else") == WebSocketMatch(fallback, {}, "*")
    with pytest.raises(InvalidHandshake) as info:
        router.resolve(req("POST", []), "/status")  # a known path keeps its 405
    assert info.value.http_status == 405
