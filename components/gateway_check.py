"""The ``curlCheck`` output: commands that prove traffic flows through the gateway.

Pure functions of a decK document (the parsed gateway file) and the proxy's host name. Without a
gateway file, or with no route a plain ``curl`` can reach, the check expects Kong's own 404 (a data
plane answers, nothing is configured). With one, it requests the first such route and expects the
upstream's answer: Kong adds ``X-Kong-Upstream-Latency`` only to responses it proxied from an
upstream (kong.conf.default, ``headers``: ``latency_tokens`` is in the default and includes
``X-Kong-Upstream-Latency``, "time taken by the upstream service to send response headers").

With a ``rate-limiting`` plugin limiting that route per minute (on the route, its service, or
global), the check sends enough requests in a row to see a 429. Kong's rate-limiting counters with
``policy: local`` (the plugin's default) live in each node's memory (Kong plugin hub,
rate-limiting, "Strategies": local counters are per node), and the NLB spreads connections over the
data planes, so it takes ``minute * data planes + 1`` requests before one node has counted more than
``minute`` (pigeonhole); with a shared counter (``redis``) ``minute + 1``.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Optional

from components.kong_facts import NO_ROUTE

#: The response header that proves Kong proxied the answer from an upstream.
UPSTREAM_HEADER = "X-Kong-Upstream-Latency"
#: Bundled plugins that refuse a request without credentials (401) before it reaches the upstream
#: (Kong plugin hub, "Authentication" plugins). A route behind one is checked last, for its 401.
AUTH_PLUGINS = frozenset({"basic-auth", "hmac-auth", "jwt", "key-auth", "key-auth-enc", "ldap-auth",
                          "ldap-auth-advanced", "mtls-auth", "oauth2", "oauth2-introspection", "openid-connect",
                          "vault-auth"})


def _ref_name(value: Any) -> Optional[str]:
    # decK references another entity by its name or id, as a string or {name: ...} / {id: ...}.
    if isinstance(value, Mapping):
        value = value.get("name") or value.get("id")
    return value if isinstance(value, str) else None


def _routes(document: Mapping[str, Any]) -> Iterator[tuple[Mapping, Optional[Mapping]]]:
    services = [s for s in document.get("services") or [] if isinstance(s, Mapping)]
    for service in services:
        for route in service.get("routes") or []:
            yield route, service
    by_ref = {key: s for s in services for key in (s.get("name"), s.get("id")) if key}
    for route in document.get("routes") or []:
        yield route, by_ref.get(_ref_name(route.get("service")) or "")


def _names(entity: Optional[Mapping]) -> set[str]:
    return {v for v in ((entity or {}).get("name"), (entity or {}).get("id")) if isinstance(v, str)}


def _applying(document: Mapping[str, Any], route: Mapping, service: Optional[Mapping]) -> list[Mapping]:
    """The enabled plugins that run for every request of ``route``: its own, its service's, and the
    file's top-level ones scoped to it, its service or nothing (not those of one consumer)."""
    candidates = list(route.get("plugins") or []) + list((service or {}).get("plugins") or [])
    route_names, service_names = _names(route), _names(service)
    for plugin in document.get("plugins") or []:
        scopes = {k: _ref_name(plugin.get(k)) for k in ("route", "service", "consumer", "consumer_group")}
        if scopes["consumer"] or scopes["consumer_group"]:
            continue
        if (scopes["route"] is None or scopes["route"] in route_names) and \
                (scopes["service"] is None or scopes["service"] in service_names):
            candidates.append(plugin)
    return [p for p in candidates if p.get("enabled") is not False and not p.get("consumer")
            and not p.get("consumer_group")]


def _minute_limit(plugins: list[Mapping]) -> Optional[tuple[int, str]]:
    """The tightest per-minute ``rate-limiting`` limit among ``plugins`` and its policy, or None."""
    limits = []
    for plugin in plugins:
        config = plugin.get("config") or {}
        if plugin.get("name") != "rate-limiting":
            continue
        if isinstance(config.get("minute"), int) and not isinstance(config.get("minute"), bool):
            limits.append((config["minute"], str(config.get("policy") or "local")))
    return min(limits) if limits else None


def _request(host: str, route: Mapping) -> Optional[tuple[str, str]]:
    """``(curl options, URL)`` that match ``route`` over plain HTTP, or None when a plain request
    cannot (regex or no paths, header or SNI rules, https only, expression routes)."""
    protocols = route.get("protocols") or ["http", "https"]
    paths = [p for p in route.get("paths") or [] if isinstance(p, str) and not p.startswith("~")]
    if "http" not in protocols or not paths or route.get("headers") or route.get("expression"):
        return None
    options = []
    methods = route.get("methods") or []
    if methods and "GET" not in methods:
        options.append(f"-X {methods[0]}")
    hosts = [h for h in route.get("hosts") or [] if isinstance(h, str) and "*" not in h]
    if route.get("hosts") and not hosts:
        return None
    if hosts:
        options.append(f"-H 'Host: {hosts[0]}'")
    return " ".join(options), f"http://{host}{paths[0]}"


def curl_check(host: str, document: Optional[Mapping[str, Any]], data_planes: int) -> str:
    """The ``curlCheck`` command for the proxy at ``host`` (a DNS name) and the gateway file's
    decK ``document`` (None: no gateway file). ``data_planes`` is the most data planes that may
    serve (ECS maximum tasks, EKS maximum replicas), for the rate-limit count. Returns one shell
    line whose ``# expect`` comment says what a healthy gateway answers."""
    reachable = [(route, service, request, _applying(document or {}, route, service))
                 for route, service in _routes(document or {}) if (request := _request(host, route)) is not None]
    # A route behind an authentication plugin answers 401 to a plain curl: check those last.
    reachable.sort(key=lambda r: any(p.get("name") in AUTH_PLUGINS for p in r[3]))
    for route, service, request, plugins in reachable:
        options, url = request
        curl = f"curl -si {options} {url}".replace("  ", " ")
        what = f"route {route.get('name')!r}" + (f" of service {service.get('name')!r}" if service else "")
        guards = sorted({str(p.get("name")) for p in plugins if p.get("name") in AUTH_PLUGINS})
        if guards:
            return (f"{curl} | head -n 1   # expect 401 ({what} needs credentials: {', '.join(guards)}), "
                    f"not {NO_ROUTE}")
        grep = f"{curl} | grep -iE '^(HTTP/|{UPSTREAM_HEADER})'"
        expect = f"the upstream's status line and {UPSTREAM_HEADER} ({what}), not {NO_ROUTE}"
        limit = _minute_limit(plugins)
        if limit is None:
            return f"{grep}   # expect {expect}"
        minute, policy = limit
        count = minute * max(data_planes, 1) + 1 if policy == "local" else minute + 1
        loop = (f"for i in $(seq 1 {count}); do curl -s -o /dev/null -w '%{{http_code}} ' {options} {url}; done; echo"
                ).replace("  ", " ")
        return (f"{grep}; {loop}   # expect {expect}; then 200s and a 429 once a data plane has counted "
                f"{minute} requests this minute (rate-limiting, policy {policy})")
    return f"curl -si http://{host}/ | head -n 1   # expect {NO_ROUTE}"
