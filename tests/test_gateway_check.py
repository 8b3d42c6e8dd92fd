"""The curlCheck command derived from the gateway file (components/gateway_check.py)."""

import re
import shlex

import pytest

from components.gateway_check import UPSTREAM_HEADER, curl_check
from components.kong_facts import NO_ROUTE

HOST = "kong-dp-0123456789abcdef.elb.us-east-1.amazonaws.com"


def _commands(line: str) -> tuple[list[list[str]], str]:
    """The shell words of each command before the comment, and the comment."""
    code, _, comment = line.partition("   # ")
    lexer = shlex.shlex(code, posix=True, punctuation_chars=";|")
    lexer.whitespace_split = True
    commands, current = [], []
    for word in lexer:
        if word in (";", "|"):
            commands.append(current)
            current = []
        else:
            current.append(word)
    commands.append(current)
    return commands, comment


def test_no_gateway_file_expects_kongs_own_404():
    commands, comment = _commands(curl_check(HOST, None, 2))
    assert commands[0] == ["curl", "-si", f"http://{HOST}/"] and comment == f"expect {NO_ROUTE}"


def test_seed_002_route_expects_the_upstream():
    document = {"_format_version": "3.0", "services": [
        {"name": "mock", "url": "https://httpbin.konghq.com", "routes": [{"name": "mock", "paths": ["/mock"]}]}]}
    commands, comment = _commands(curl_check(HOST, document, 4))
    assert commands[0] == ["curl", "-si", f"http://{HOST}/mock"]
    assert commands[1][:2] == ["grep", "-iE"] and re.search(commands[1][2], f"{UPSTREAM_HEADER}: 12", re.I)
    assert "route 'mock' of service 'mock'" in comment and "429" not in comment


@pytest.mark.parametrize(("data_planes", "policy", "requests"), [(1, None, 4), (6, "local", 19), (6, "redis", 4)])
def test_rate_limit_sends_enough_requests_to_see_a_429(data_planes, policy, requests):
    config = {"minute": 3, **({"policy": policy} if policy else {})}
    document = {"_format_version": "3.0",
                "services": [{"name": "gateway_service1", "url": "http://httpbin.org"}],
                "routes": [{"name": "route1", "service": {"name": "gateway_service1"}, "paths": ["/route1"]}],
                "plugins": [{"name": "rate-limiting", "route": "route1", "config": config}]}
    line = curl_check(HOST, document, data_planes)
    assert f"seq 1 {requests})" in line and "then 200s and a 429" in line
    # The comment comes last, so the shell runs both commands.
    assert line.index("# expect") > line.index("done; echo")


def test_routes_a_plain_request_cannot_match_are_skipped():
    document = {"_format_version": "3.0", "services": [{"name": "s", "url": "http://a.example", "routes": [
        {"name": "regex", "paths": ["~/v[0-9]+"]},
        {"name": "tls-only", "paths": ["/tls"], "protocols": ["https"]},
        {"name": "by-header", "paths": ["/h"], "headers": {"x-env": ["dev"]}},
        {"name": "wildcard-host", "paths": ["/w"], "hosts": ["*.example.com"]},
        {"name": "post", "paths": ["/p"], "methods": ["POST"], "hosts": ["api.example.com"]}]}]}
    commands, comment = _commands(curl_check(HOST, document, 2))
    assert commands[0] == ["curl", "-si", "-X", "POST", "-H", "Host: api.example.com", f"http://{HOST}/p"]
    assert "route 'post'" in comment


def test_consumer_scoped_and_disabled_limits_do_not_count():
    document = {"_format_version": "3.0", "services": [{"name": "s", "url": "http://a.example", "routes": [
        {"name": "r", "paths": ["/r"], "plugins": [{"name": "rate-limiting", "enabled": False, "config": {"minute": 1}}]}]}],
        "plugins": [{"name": "rate-limiting", "consumer": "alice", "config": {"minute": 2}}]}
    assert "429" not in curl_check(HOST, document, 2)


def test_a_route_behind_an_authentication_plugin_is_checked_last_for_its_401():
    document = {"_format_version": "3.0", "services": [{"name": "s", "url": "http://a.example", "routes": [
        {"name": "private", "paths": ["/private"], "plugins": [{"name": "key-auth"}]},
        {"name": "public", "paths": ["/public"]}]}]}
    commands, comment = _commands(curl_check(HOST, document, 2))
    assert commands[0][-1] == f"http://{HOST}/public" and "route 'public'" in comment
    # Only protected routes: the check proves the route matched (401, not Kong's 404).
    document["services"][0]["routes"].pop()
    document["plugins"] = [{"name": "rate-limiting", "config": {"minute": 3}}]
    commands, comment = _commands(curl_check(HOST, document, 2))
    assert commands[0][-1] == f"http://{HOST}/private"
    assert comment.startswith("expect 401 (route 'private' of service 's' needs credentials: key-auth)")
    assert "429" not in comment
