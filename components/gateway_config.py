"""Gateway configuration as code: a decK file (``_format_version: "3.0"``) per stack.

:func:`load_gateway_file` reads the file a stack names (``kong-aws:gateway.configFile``), checks it
offline and flattens it into :class:`Entity` values in dependency order; :func:`deck_document` is
the same file as decK syncs it (hybrid-eks), :func:`substitute_env` fills a body's secrets in
(the Konnect entity provider).

What a file may hold (decK's file format, Kong/go-database-reconciler ``pkg/file/types.go``
``Content`` and ``pkg/file/kong_json_schema.json``, commit 8f5e476d):

- top level: ``_format_version`` (``"3.0"``, a string), ``services``, ``routes``, ``consumers``,
  ``plugins``, ``upstreams``, ``certificates``, ``ca_certificates``, ``vaults``. decK's other keys
  (consumer groups, partials, keys, ``_workspace``, ``_konnect``, ``_transform`` ...) are refused,
  and so is ``_info``: the stack sets ``_info.select_tags`` itself (its ownership tag), and
  ``_info.defaults`` is refused too because the Konnect path applies entity bodies as written
  (write the values on the entities instead).
- nesting: ``services[].routes[]``, ``services[].plugins[]``, ``services[].routes[].plugins[]``,
  ``routes[].plugins[]``, ``consumers[].plugins[]``, ``consumers[].{keyauth_credentials,
  basicauth_credentials, hmacauth_credentials, jwt_secrets, acls}[]``, ``upstreams[].targets[]``,
  ``certificates[].snis[]`` (objects with ``name``).
- references: a top-level route names its service as an object, ``service: {name: x}`` or
  ``{id: x}`` (``FRoute.service`` is a ``Service``); a plugin names its scope with a string, the
  name or the id (``FPlugin.service`` / ``route`` / ``consumer`` are strings; ``builder.go`` looks
  them up by either). A service's ``client_certificate`` is a certificate id (string or ``{id:}``).
- certificates need an ``id`` (``FCertificate`` requires ``id``, ``cert``, ``key``).

Checks, all reported at once in one :class:`GatewayFileError`, each line naming the file, the
JSON-path-like position and the YAML line:

- each entity against its schema in Konnect's configuration API (OpenAPI 3.1,
  ../shared/reference/konnect/konnect-control-planes-config-v2.openapi.yaml, ``components.schemas``),
  distilled into ``components/data/konnect-entity-schemas.json`` (:func:`entity_schemas`; the
  program runs without ../shared, and tests/test_gateway_config.py checks the copy against the
  spec), checked by the jsonschema library with OpenAPI's ``nullable`` (:func:`schema_problems`):
  unknown fields, wrong types, enums, ranges, required fields;
- a route matches on something: Kong's per-protocol rule (Kong/kong 3.9.3
  ``kong/db/schema/entities/routes_subschemas.lua``, :func:`route_match_problem`);
- references resolve, names are unique, ``name`` is set on services, routes and upstreams (the
  stack keys entities by name), consumers have ``username`` or ``custom_id``;
- plugin names are ones Kong bundles (:data:`BUNDLED_PLUGINS`);
- the file's structure: every list and mapping the format nests is of that shape (``consumers: 5``
  or a list item that is not a mapping is a problem line, never another exception);
- a service ``url`` has a scheme Kong's ``protocol`` allows, a host, and a port of 0-65535; a
  target has a ``target``; every ``tags`` entry is a tag Kong accepts (:func:`check_tag`);
- secrets are never plain text (:data:`CREDENTIAL_SECRET_FIELDS`, :func:`is_secret_config_field`):
  they are decK's ``${{ env "DECK_NAME" }}``, whose name must be a key of the stack's secret
  ``kong-aws:gatewaySecrets``, or (where Kong resolves them) a vault reference
  ``{vault://<prefix>/<path>}``. A secret field may also hold an HTTP authentication scheme word
  before its placeholders (:func:`is_secret_form`: ``Bearer ${{ env "DECK_TOKEN" }}``);
- decK's templates are only ``${{ env "DECK_NAME" }}`` (:func:`templates`), and no name is one of
  decK's own settings (:data:`DECK_SETTINGS`), which decK would read as its configuration.

What is not checked: the contents of a plugin's ``config``. Konnect's spec leaves ``Plugin.config``
an open object, and each plugin's own schema (Kong's ``kong/plugins/<name>/schema.lua``) is not
reproduced here; only its secret fields are looked at (above). Kong checks ``config`` against the
plugin's schema when the file is applied: the Konnect configuration API refuses the plugin
(``pulumi up`` fails on that entity, konnect-managed) and decK's ``gateway sync`` fails the sync Job
(hybrid-eks); ``pulumi preview`` does not see such a mistake. Likewise left to Kong: the formats of
hosts, paths, SNIs, certificates and target addresses, and rules across entities beyond the
references above (a route's ``hosts`` shared with another's, say).

Entity keys (:attr:`Entity.key`) are stable across edits that keep an entity's identity: names for
named entities, and for consumers' credentials the ``id`` the file gives, else a field that
identifies the credential without being secret (:func:`credential_suffix`).
"""

import dataclasses
import functools
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Required, TypedDict

import pulumi

#: The entity kinds a gateway file may declare, as :attr:`Entity.kind` names them, in the order
#: they are applied (an entity comes after the ones it references).
KINDS = ("vault", "ca_certificate", "certificate", "sni", "upstream", "target", "service", "route",
         "consumer", "keyauth_credential", "basicauth_credential", "hmacauth_credential", "jwt_secret", "acl",
         "plugin")

#: The project directory, which ``kong-aws:gateway.configFile`` is relative to.
PROJECT_DIR = Path(__file__).resolve().parent.parent
#: The decK file format this project reads (decK 1.x files for Kong 3.x).
FORMAT_VERSION = "3.0"
#: The Konnect entity schemas, distilled from the spec by :func:`entity_schemas`.
SCHEMAS_FILE = Path(__file__).resolve().parent / "data" / "konnect-entity-schemas.json"
#: The stack config object holding the values of the DECK_ names (secret).
SECRETS_KEY = "kong-aws:gatewaySecrets"

#: The schema (``components.schemas`` of Konnect's configuration API) each kind is checked against.
#: Routes use ``RouteJson``, or ``RouteExpression`` when they set ``expression`` (``Route`` is the
#: ``oneOf`` of the two).
SCHEMA_OF_KIND = {"vault": "Vault", "ca_certificate": "CACertificate", "certificate": "Certificate", "sni": "SNI",
                  "upstream": "Upstream", "target": "Target", "service": "Service", "route": "RouteJson",
                  "consumer": "Consumer", "keyauth_credential": "KeyAuth", "basicauth_credential": "BasicAuth",
                  "hmacauth_credential": "HMACAuth", "jwt_secret": "JWT", "acl": "ACL", "plugin": "Plugin"}
SCHEMA_NAMES = tuple(sorted({*SCHEMA_OF_KIND.values(), "RouteExpression"}))
#: The JSON Schema keywords of the spec's entity schemas that constrain values; :func:`entity_schemas`
#: keeps only these (the rest are annotations: description, example, default, x-*).
SCHEMA_KEYWORDS = frozenset({"type", "properties", "additionalProperties", "required", "items", "enum",
                             "minimum", "maximum", "minLength", "maxLength", "nullable"})

#: Kong Gateway OSS's bundled plugins: Kong/kong tag 3.9.3, ``kong/constants.lua`` ``plugins``
#: (the last OSS line; the 3.10 line is Enterprise only).
OSS_PLUGINS = (
    "jwt", "acl", "correlation-id", "cors", "oauth2", "tcp-log", "udp-log", "file-log", "http-log", "key-auth",
    "hmac-auth", "basic-auth", "ip-restriction", "request-transformer", "response-transformer",
    "request-size-limiting", "rate-limiting", "response-ratelimiting", "syslog", "loggly", "datadog", "ldap-auth",
    "statsd", "bot-detection", "aws-lambda", "request-termination", "prometheus", "proxy-cache", "session", "acme",
    "grpc-gateway", "grpc-web", "pre-function", "post-function", "azure-functions", "zipkin", "opentelemetry",
    "ai-proxy", "ai-prompt-decorator", "ai-prompt-template", "ai-prompt-guard", "ai-request-transformer",
    "ai-response-transformer", "standard-webhooks", "redirect")
#: The plugins Kong Gateway Enterprise 3.10 (and Konnect) ships beyond those: Kong's plugin
#: documentation, Kong/developer.konghq.com ``app/_schemas/gateway/plugins/3.10/`` (one schema per
#: plugin, file names in CamelCase; commit bc1cd742), names as the ``app/_kong_plugins/`` pages spell them.
ENTERPRISE_PLUGINS = (
    "ace", "ai-aws-guardrails", "ai-azure-content-safety", "ai-gcp-model-armor", "ai-llm-as-judge", "ai-mcp-oauth2",
    "ai-mcp-proxy", "ai-prompt-compressor", "ai-proxy-advanced", "ai-rag-injector", "ai-rate-limiting-advanced",
    "ai-sanitizer", "ai-semantic-cache", "ai-semantic-prompt-guard", "ai-semantic-response-guard", "app-dynamics",
    "canary", "confluent", "confluent-consume", "datakit", "degraphql", "exit-transformer", "forward-proxy",
    "graphql-proxy-cache-advanced", "graphql-rate-limiting-advanced", "header-cert-auth", "injection-protection",
    "jq", "json-threat-protection", "jwe-decrypt", "jwt-signer", "kafka-consume", "kafka-log", "kafka-upstream",
    "key-auth-enc", "konnect-application-auth", "ldap-auth-advanced", "mocking", "mtls-auth", "oas-validation",
    "oauth2-introspection", "opa", "openid-connect", "proxy-cache-advanced", "rate-limiting-advanced",
    "request-callout", "request-transformer-advanced", "request-validator", "response-transformer-advanced",
    "route-by-header", "route-transformer-advanced", "saml", "service-protection", "solace-consume", "solace-log",
    "solace-upstream", "statsd-advanced", "tls-handshake-modifier", "tls-metadata-headers", "upstream-oauth",
    "upstream-timeout", "vault-auth", "websocket-size-limit", "websocket-validator", "xml-threat-protection")
BUNDLED_PLUGINS = frozenset(OSS_PLUGINS + ENTERPRISE_PLUGINS)

#: Secret fields of entities, by kind: credentials' keys, passwords and secrets, certificates'
#: private keys (Konnect's spec marks ``password``, ``secret``, ``key``, ``key_alt`` ``x-encrypted``;
#: a key-auth ``key`` and a JWT ``secret`` are the credential itself).
CREDENTIAL_SECRET_FIELDS: Mapping[str, tuple[str, ...]] = {
    "keyauth_credential": ("key",), "basicauth_credential": ("password",), "hmacauth_credential": ("secret",),
    "jwt_secret": ("secret",), "certificate": ("key", "key_alt")}
#: Where Kong resolves ``{vault://...}``: only fields its schema marks ``referenceable`` (Kong 3.9.3
#: ``certificates.lua``: ``cert``, ``key``, ``cert_alt``, ``key_alt``; the spec's ``x-referenceable``).
#: Credentials' secrets are not referenceable (``key-auth/daos.lua`` ...): there, only env substitution.
VAULT_REFERENCEABLE: Mapping[str, tuple[str, ...]] = {"certificate": ("key", "key_alt")}
#: A plugin ``config`` field (at any depth) is secret when its name, lower-cased, is one of these or
#: ends with ``_`` and one of these (``password``, ``redis.sentinel_password``, ``client_secret``,
#: ``aws_secret``, ``api_key``, ``headers.Authorization``). Only string values (and strings in
#: lists) are checked; a secret under another name (a custom header, say) is the author's to protect.
SECRET_NAME_ENDINGS = ("password", "passwd", "secret", "token", "api_key", "apikey", "private_key",
                       "secret_key", "authorization")

#: decK's environment substitution: decK renders the file as a Go template with delimiters
#: ``${{`` ``}}`` and an ``env`` function that reads only variables prefixed ``DECK_``
#: (Kong/go-database-reconciler ``pkg/file/template.go``: ``Delims("${{", "}}")``, ``envVarPrefix =
#: "DECK_"``). Names as ``kong-aws:gatewaySecrets`` accepts them.
DECK_NAME = re.compile(r"DECK_[A-Z0-9_]+")
ENV_PLACEHOLDER = re.compile(r'\$\{\{\s*env\s+"(' + DECK_NAME.pattern + r')"\s*\}\}')
#: One decK template action, ``${{`` to the next ``}}`` (whatever it holds).
TEMPLATE = re.compile(r"\$\{\{.*?\}\}", re.S)
#: decK's own settings, which it reads from ``DECK_<FLAG>`` environment variables (github.com/Kong/deck
#: v1.65 cmd/root.go ``viper.BindPFlag`` / ``viper.Get*`` keys with ``-`` as ``_``, viper's env prefix
#: ``deck``; cmd/common.go ``DECK_FORMAT``). A gateway file may not read one (the variable would
#: also configure decK in the sync Job), nor may ``kong-aws:gatewaySecrets`` set one.
DECK_SETTINGS = frozenset(f"DECK_{key.upper().replace('-', '_')}" for key in (
    "analytics", "ca-cert", "ca-cert-file", "headers", "kong-addr", "kong-admin-token", "kong-cookie-jar-path",
    "konnect-addr", "konnect-control-plane-name", "konnect-runtime-group-name", "konnect-token",
    "konnect-token-file", "no-color", "skip-defaults-fill", "skip-workspace-crud", "timeout", "tls-client-cert",
    "tls-client-cert-file", "tls-client-key", "tls-client-key-file", "tls-server-name", "tls-skip-verify",
    "verbose", "format"))
#: The words a secret field may hold before its placeholders (:func:`is_secret_form`): HTTP
#: authentication schemes of IANA's "HTTP Authentication Scheme Registry" (Basic, Bearer, Digest,
#: Negotiate) and two unregistered ones APIs use (Token, ApiKey). Matched without regard to case.
AUTH_SCHEMES = ("Basic", "Bearer", "Digest", "Negotiate", "Token", "ApiKey")
_SECRET_FORM = re.compile(r"\s*(?:(?i:" + "|".join(AUTH_SCHEMES) + r") +)?(?:" + ENV_PLACEHOLDER.pattern + r")+\s*")
#: A Kong vault reference: ``{vault://<vault prefix>/<secret id>[/<key>][?query]}`` (Kong docs,
#: "Secrets management: reference format").
VAULT_REFERENCE = re.compile(r"\{vault://[a-z0-9_-]+/[^{}\s]+\}", re.I)

_TOP_LEVEL = ("_format_version", "services", "routes", "consumers", "plugins", "upstreams", "certificates",
              "ca_certificates", "vaults")
_CREDENTIAL_LISTS = {"keyauth_credentials": "keyauth_credential", "basicauth_credentials": "basicauth_credential",
                     "hmacauth_credentials": "hmacauth_credential", "jwt_secrets": "jwt_secret", "acls": "acl"}
_UNSUPPORTED_CONSUMER_LISTS = ("oauth2_credentials", "mtls_auth_credentials", "groups")
#: The fields by which a plugin names its scope, in the order its key lists them.
PLUGIN_SCOPES = ("service", "route", "consumer")

Path_ = tuple  # a position in the document: keys and list indices


@dataclasses.dataclass(frozen=True)
class Entity:
    """One Kong entity of a gateway file, as the stack applies it.

    ``kind``: one of :data:`KINDS`. ``key``: unique in the file and stable across edits that keep
    the entity's name (``service:mock``, ``route:mock``, ``plugin:rate-limiting@route:route1``,
    ``target:<upstream>/<target>``, ``keyauth_credential:<consumer>/DECK_ALICE_KEY``,
    ``basicauth_credential:<consumer>/<username>``, ``acl:<consumer>/<group>``: a credential by
    :func:`credential_suffix`, by its position only when nothing stable identifies it). ``name``: a short
    readable name for resource names and messages. ``body``: the entity's fields as Konnect's
    configuration API takes them, without ``id`` and without the reference fields, which are in
    ``refs``; strings may hold decK's ``${{ env "DECK_X" }}`` and Kong's ``{vault://...}``.
    ``refs``: reference field -> key of the entity it names (``{"service": "service:mock"}``;
    targets ``{"upstream": ...}``, credentials and ACLs ``{"consumer": ...}``, SNIs
    ``{"certificate": ...}``). ``explicit_id``: the ``id`` the file gives, if any. ``position``:
    where the entity is in the file (``services[0].routes[1] (line 12)``).
    """

    kind: str
    """one of :data:`KINDS`"""
    key: str
    """unique in the file, stable while the entity keeps its name (``service:mock``); a credential's
    by :func:`credential_suffix`"""
    name: str
    """a short readable name, for resource names and messages"""
    body: Mapping[str, Any]
    """the fields as Konnect's configuration API takes them, without ``id`` and references"""
    refs: Mapping[str, str]
    """reference field -> key of the entity it names"""
    position: str
    """where the entity is in the file (``services[0].routes[1] (line 12)``)"""
    explicit_id: Optional[str] = None
    """the ``id`` the file gives, if any"""


class GatewayFileError(ValueError):
    """A gateway file that cannot be used. ``lines``: every problem, one a line, each
    ``<file>: <position> (<entity>, line <n>): <what is wrong; what is allowed>``. Never holds a
    secret's value."""

    def __init__(self, lines: Iterable[str]):
        self.lines: list[str] = list(lines)
        super().__init__("\n".join(self.lines))


@dataclasses.dataclass(frozen=True)
class GatewayFile:
    """A checked gateway file. ``path``: as given (relative to the project). ``document``: the
    parsed mapping, untouched. ``entities``: flattened in :data:`KINDS` order, file order within a
    kind. ``env_names``: the DECK_ names its ``${{ env ... }}`` use. ``plugin_names``: every plugin
    it enables or declares."""

    path: str
    document: Mapping[str, Any]
    entities: tuple[Entity, ...]
    env_names: frozenset[str]
    plugin_names: frozenset[str]

    @property
    def prometheus_enabled(self) -> bool:
        """Whether a global ``prometheus`` plugin is on: no service, route or consumer scope and
        ``enabled`` not false (Kong's default is true). Kong's ``/metrics`` then has every request."""
        return any(e.kind == "plugin" and e.body.get("name") == "prometheus" and not e.refs
                   and e.body.get("enabled", True) is not False for e in self.entities)


_TAG = re.compile(r"[ !-+\-.0-~\x80-\U0010ffff]+")


def stack_tag(project: str, stack: str) -> str:
    """``kong-aws:<project>:<stack>``: the tag by which a stack recognises its entities."""
    return f"kong-aws:{project}:{stack}"


def check_tag(tag: str) -> str:
    """``tag`` if Kong accepts it as a tag (printable ASCII but ``,`` and ``/``, or UTF-8; source:
    Kong/kong ``kong/db/schema/typedefs.lua`` ``validate_tag``), else ``ValueError``."""
    if not _TAG.fullmatch(tag):
        raise ValueError(f"{tag!r} is not a Kong tag: printable characters other than ',' and '/' only")
    return tag


class GatewaySettings(TypedDict, total=False):
    """A gateway file as the mode components take it (``KonnectEcsGatewayArgs`` and
    ``HybridEksGatewayArgs`` ``gateway``)."""

    config_file: Required[str]
    """the decK file (``_format_version: "3.0"``): an absolute path, or relative to the working
    directory (the program passes an absolute path built from the project directory)"""
    secrets: Mapping[str, pulumi.Input[str]]
    """the values of the file's ``${{ env "DECK_NAME" }}``, by DECK_ name (kept secret; default none)"""


def load_settings(settings: Optional[GatewaySettings]) -> Optional[GatewayFile]:
    """The gateway file ``settings`` name, loaded and validated (None without settings). Raises
    :class:`GatewayFileError` as :func:`load_gateway_file` does."""
    if settings is None:
        return None
    return load_gateway_file(settings["config_file"], root=Path.cwd(),
                             secret_names=frozenset(settings.get("secrets") or {}))


def secret_env(settings: Optional[GatewaySettings]) -> dict[str, pulumi.Input[str]]:
    """``settings``' secrets as Pulumi secrets, by DECK_ name (empty without any)."""
    secrets: Mapping[str, pulumi.Input[str]] = (settings.get("secrets") or {}) if settings is not None else {}
    return {name: pulumi.Output.secret(value) for name, value in secrets.items()}


def _fmt(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


@functools.cache
def _schemas() -> Mapping[str, Any]:
    return json.loads(SCHEMAS_FILE.read_text())["schemas"]


def entity_schemas(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The schemas of :data:`SCHEMA_NAMES` from Konnect's configuration API spec (the parsed
    OpenAPI document), with only :data:`SCHEMA_KEYWORDS` kept: what ``SCHEMAS_FILE`` holds.
    Raises KeyError when the spec lacks one of them."""

    def keep(schema: Any, in_properties: bool = False) -> Any:
        if not isinstance(schema, dict):
            return schema
        if in_properties:
            return {name: keep(sub) for name, sub in schema.items()}
        return {k: keep(v, k == "properties") for k, v in schema.items() if k in SCHEMA_KEYWORDS}

    found = spec["components"]["schemas"]
    return {name: keep(found[name]) for name in SCHEMA_NAMES}


@functools.cache
def _validator_class() -> Any:
    # JSON Schema 2020-12 as the jsonschema library checks it, plus OpenAPI 3.0's ``nullable`` that
    # the spec still uses: a null value passes any ``type`` of a nullable schema.
    import jsonschema

    base = jsonschema.Draft202012Validator
    check_type = base.VALIDATORS["type"]

    def nullable_type(validator: Any, types: Any, instance: Any, schema: Mapping[str, Any]) -> Any:
        if instance is None and schema.get("nullable"):
            return
        yield from check_type(validator, types, instance, schema)

    return jsonschema.validators.extend(base, {"type": nullable_type})


@functools.cache
def _validator(schema_name: str) -> Any:
    return _validator_class()(_schemas()[schema_name])


def schema_problems(value: Any, schema: Mapping[str, Any] | str, path: Path_ = (),
                    secret: Optional[Callable[[Path_], bool]] = None) -> list[tuple[Path_, str]]:
    """``value`` checked against ``schema`` (a JSON Schema, or the name of one of the distilled
    entity schemas) by the jsonschema library, with OpenAPI's ``nullable``: ``[(path of the
    offending value, message)]``, empty when it conforms. Messages name types, fields and limits.

    ``secret``: tells, for a position within ``value`` (keys and indices), whether the value there
    may be a secret. A wrong string, number or boolean is shown (``got a string '443'``, ``got
    70000; must be at most 65535``) only where ``secret`` says it is not; without ``secret`` no value
    is shown. An enum's wrong choice is always shown (a choice is not a secret); a wrong length is
    given as the value's length, never the value."""
    validator = _validator(schema) if isinstance(schema, str) else _validator_class()(schema)
    problems: list[tuple[Path_, str]] = []
    for error in sorted(validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path]):
        where, keyword, limit, instance = (*path, *error.absolute_path), error.validator, error.validator_value, \
            error.instance
        visible = secret is not None and not secret(tuple(error.absolute_path)) and \
            isinstance(instance, (str, int, float, bool))
        if keyword == "type":
            expected = next(t for t in ([limit] if isinstance(limit, str) else limit) if t != "null")
            article = "an" if expected[0] in "aeiou" else "a"
            got = f"{_type_name(instance)} {_show(instance)}" if visible else _type_name(instance)
            problems.append((where, f"expected {article} {expected}, got {got}"))
        elif keyword == "enum":
            problems.append((where, f"got {_show(instance)}; allowed: {', '.join(map(str, limit))}"))
        elif keyword in ("minLength", "maxLength") and isinstance(instance, str):
            bound = "at least" if keyword == "minLength" else "at most"
            problems.append((where, f"got {len(instance)} characters; must be {bound} {limit} characters long"))
        elif keyword in ("minimum", "maximum") and visible:
            bound = "at least" if keyword == "minimum" else "at most"
            problems.append((where, f"got {_show(instance)}; must be {bound} {limit}"))
        elif keyword == "required":
            problems += [(where, f"'{name}' is required") for name in limit
                         if isinstance(instance, dict) and name not in instance]
        elif keyword == "additionalProperties":
            allowed = error.schema.get("properties", {})
            problems += [((*where, name), f"unknown field; allowed: {', '.join(sorted(allowed))}")
                         for name in instance if name not in allowed]
        else:
            words = {"minimum": "must be at least {}", "maximum": "must be at most {}",
                     "minLength": "must be at least {} characters long", "maxLength": "must be at most {} characters long"}
            problems.append((where, words.get(keyword, f"does not satisfy {keyword} {{}}").format(limit)))
    return list(dict.fromkeys(problems))


def _show(value: Any) -> str:
    # A value as a problem line shows it: its repr, cut to 40 characters.
    shown = repr(value)
    return shown if len(shown) <= 40 else f"{shown[:37]}..."


def _secret_position(kind: str, position: Path_) -> bool:
    # Whether the value at ``position`` within a ``kind`` entity's body may be a secret.
    if kind in CREDENTIAL_SECRET_FIELDS and position[:1] and position[0] in CREDENTIAL_SECRET_FIELDS[kind]:
        return True
    return kind == "plugin" and position[:1] == ("config",) and any(
        isinstance(part, str) and is_secret_config_field(part) for part in position[1:])


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a mapping"}.get(type(value), type(value).__name__)


def url_problem(url: str) -> Optional[str]:
    """What is wrong with a service's ``url`` for Kong, None when nothing: decK splits it into
    ``protocol``, ``host``, ``port`` and ``path`` (go-database-reconciler ``pkg/file`` ``FService``
    ``url``), so the scheme must be one of the ``protocol`` values of Konnect's ``Service`` schema,
    the host present and the port, if given, a number of 0-65535 (the schema's ``port``). The
    problem shows the scheme, host or port, never the whole URL (which may carry user information)."""
    from urllib.parse import urlsplit

    service = _schemas()["Service"]["properties"]
    protocols, port_schema = service["protocol"]["enum"], service["port"]
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "not a URL; expected <scheme>://<host>[:<port>][/<path>], such as https://httpbin.konghq.com"
    if parts.scheme not in protocols:
        return f"got the scheme {_show(parts.scheme)}; allowed: {', '.join(protocols)}"
    if not host:
        return "no host; expected <scheme>://<host>[:<port>][/<path>], such as https://httpbin.konghq.com"
    try:
        parts.port
    except ValueError:
        given = parts.netloc.rpartition("@")[2].rpartition(":")[2]
        return (f"got the port {_show(given)}; allowed: a number from {port_schema['minimum']} to "
                f"{port_schema['maximum']}")
    return None


def route_match_problem(route: Mapping[str, Any]) -> Optional[str]:
    """Kong's rule that a route matches on something, by its ``protocols`` (default ``http``,
    ``https``): Kong/kong 3.9.3 ``kong/db/schema/entities/routes_subschemas.lua``
    ``conditional_at_least_one_of`` (https: methods, hosts, headers, paths or snis; http: methods,
    hosts, headers or paths; grpcs: hosts, headers, paths or snis; grpc: hosts, headers or paths;
    tcp, tls, udp: sources, destinations or snis; tls_passthrough: snis). ``ws``/``wss``
    (Enterprise) are taken as ``http``/``https``. A route with ``expression`` passes (Kong then
    needs ``router_flavor = expressions``). None when the route matches on something."""
    if route.get("expression"):
        return None
    protocols = route.get("protocols") or ["http", "https"]
    if not isinstance(protocols, list):
        return None  # the schema check reports it
    https, http = ("methods", "hosts", "headers", "paths", "snis"), ("methods", "hosts", "headers", "paths")
    stream = ("sources", "destinations", "snis")
    rules = (("https", https), ("wss", https), ("http", http), ("ws", http),
             ("grpcs", ("hosts", "headers", "paths", "snis")), ("grpc", ("hosts", "headers", "paths")),
             ("tcp", stream), ("tls", stream), ("udp", stream), ("tls_passthrough", ("snis",)))
    for protocol, fields in rules:
        if protocol in protocols:
            if any(route.get(f) for f in fields):
                return None
            return (f"a route with protocol '{protocol}' must set one of {', '.join(fields)} "
                    "(Kong's routes schema)")
    return None


def is_secret_config_field(name: str) -> bool:
    """Whether a plugin ``config`` field named ``name`` holds a secret (:data:`SECRET_NAME_ENDINGS`)."""
    lowered = name.lower()
    return any(lowered == end or lowered.endswith("_" + end) for end in SECRET_NAME_ENDINGS)


def is_secret_form(value: str) -> bool:
    """Whether ``value``, the text of a secret field, keeps its secret out of the file: one or more
    decK placeholders ``${{ env "DECK_NAME" }}`` written one after the other, optionally after one
    word of :data:`AUTH_SCHEMES` (any case) and one or more spaces, with spaces allowed around the
    whole. ``${{ env "DECK_T" }}`` and ``Bearer ${{ env "DECK_T" }}`` pass; ``Bearer abc``,
    ``abc ${{ env "DECK_T" }}`` and ``Bearer ${{ env "DECK_T" }}-x`` do not (their other text could
    be part of the secret)."""
    return _SECRET_FORM.fullmatch(value) is not None


def is_deck_setting(name: str) -> bool:
    """Whether the environment variable ``name`` is one decK reads as its own setting
    (:data:`DECK_SETTINGS`, such as ``DECK_HEADERS``, ``DECK_KONG_ADDR``, ``DECK_TIMEOUT``): such a
    name may be neither read by a gateway file nor a key of ``kong-aws:gatewaySecrets``."""
    return name in DECK_SETTINGS


def templates(value: Any, path: Path_ = ()) -> Iterator[tuple[Path_, str, Optional[str]]]:
    """Every decK template action in the strings of ``value`` (mappings' keys and values, lists,
    recursively), in document order: ``(position, action text, DECK_ name)``, the name None when the
    action is not decK's ``${{ env "DECK_NAME" }}`` (another function, a pipe, a name without the
    ``DECK_`` prefix). A ``${{`` left unclosed is yielded as ``(position, its text to the end,
    None)``. ``position`` is ``path`` plus the keys and indices leading to the string."""
    if isinstance(value, str):
        end = 0
        for match in TEMPLATE.finditer(value):
            env = ENV_PLACEHOLDER.fullmatch(match.group(0))
            yield path, match.group(0), env.group(1) if env else None
            end = match.end()
        rest = value.find("${{", end)
        if rest >= 0:
            yield path, value[rest:], None
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from templates(key, (*path, key))
            yield from templates(item, (*path, key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from templates(item, (*path, i))


def env_names(value: Any) -> frozenset[str]:
    """The ``DECK_`` names of the ``${{ env "DECK_NAME" }}`` placeholders in ``value`` (a document
    or a body, as :func:`templates` walks it); empty without any."""
    return frozenset(name for _, _, name in templates(value) if name is not None)


def credential_suffix(kind: str, raw: Mapping[str, Any], position: int) -> str:
    """What keys a consumer's credential of ``kind`` (``keyauth_credential`` ... ``acl``) among the
    consumer's others, as :attr:`Entity.key` ``<kind>:<consumer>/<suffix>`` ends, so that removing
    or reordering one credential leaves the others' keys (and so their ids and resources) as they
    were. The first that applies:

    - ``id:<id>`` when the file gives an ``id`` (a string);
    - an ACL: its ``group``;
    - a key-auth credential: the DECK_ name its ``key`` reads (names joined by ``+`` when it reads
      several), or ``vault:<first 12 hex of SHA-256 of the reference>`` for a vault reference;
    - a basic-auth or HMAC-auth credential: its ``username``;
    - a JWT credential: its ``key`` (the issuer claim it matches, not a secret);
    - else ``#<position>``, the credential's index in its list (a key-auth ``key`` or JWT ``key``
      left to Kong to generate, or a value the loader refuses anyway): such a key follows the
      position, and removing an earlier credential of the list moves it (give an ``id`` to avoid
      that)."""
    given = raw.get("id")
    if isinstance(given, str) and given:
        return f"id:{given}"
    field = {"acl": "group", "basicauth_credential": "username", "hmacauth_credential": "username",
             "jwt_secret": "key"}.get(kind)
    if field is not None:
        found = raw.get(field)
        if isinstance(found, str) and found:
            return found
    if kind == "keyauth_credential" and isinstance(raw.get("key"), str):
        key = raw["key"]
        names = env_names(key)
        if names:
            return "+".join(sorted(names))
        if VAULT_REFERENCE.fullmatch(key.strip()):
            return f"vault:{hashlib.sha256(key.strip().encode()).hexdigest()[:12]}"
    return f"#{position}"


def substitute_env(value: Any, env: Mapping[str, str]) -> Any:
    """A copy of ``value`` (a body: mappings, lists, scalars) with every ``${{ env "DECK_X" }}`` in
    its strings replaced by ``env["DECK_X"]``, as decK substitutes them. Raises KeyError naming
    the first DECK_ name ``env`` lacks."""
    if isinstance(value, str):
        return ENV_PLACEHOLDER.sub(lambda m: env[m.group(1)], value)
    if isinstance(value, Mapping):
        return {k: substitute_env(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, env) for v in value]
    return value


def deck_document(gateway_file: GatewayFile, select_tag: str) -> dict[str, Any]:
    """The file as decK should sync it: a copy of the document with ``_info.select_tags`` set to
    ``[select_tag]``, so that decK adds the tag to every entity and touches only entities that carry
    it (decK ``Info.SelectorTags``). ``${{ env ... }}`` placeholders are left for decK."""
    document = json.loads(json.dumps(gateway_file.document))
    document["_info"] = {"select_tags": [select_tag]}
    return document


def _suggestion(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(BUNDLED_PLUGINS), n=1, cutoff=0.7)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Loader:
    """One file's walk: entities, problems, and the YAML line of every position."""

    def __init__(self, shown: str, secret_names: frozenset[str]):
        self.shown = shown
        self.secret_names = secret_names
        self.lines: dict[Path_, int] = {}
        self.problems: list[str] = []
        self.entities: list[Entity] = []
        # (kind, name or id) -> key, for references
        self.by_name: dict[tuple[str, str], str] = {}
        self.by_id: dict[tuple[str, str], str] = {}
        self.seen: dict[str, str] = {}
        self.pending_refs: list[tuple[Path_, str, str, str, Any, str]] = []
        self.env_names: set[str] = set()

    # -- positions and problems

    def line(self, path: Path_) -> Optional[int]:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path)

    def problem(self, path: Path_, message: str, label: str = "") -> None:
        line = self.line(path)
        where = ", ".join(x for x in (label, f"line {line}" if line else "") if x)
        self.problems.append(f"{self.shown}: {_fmt(path)}{f' ({where})' if where else ''}: {message}")

    def record_lines(self, node: Any, path: Path_) -> None:
        import yaml

        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            keys: set[Any] = set()
            for key_node, value_node in node.value:
                key = key_node.value
                if key in keys:
                    self.lines[(*path, key)] = key_node.start_mark.line + 1
                    self.problem((*path, key), "duplicate key in this mapping (YAML keeps only the last)")
                keys.add(key)
                self.record_lines(value_node, (*path, key))
                self.lines[(*path, key)] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.record_lines(item, (*path, i))

    # -- the walk

    def items(self, parent: Mapping[str, Any], field: str, path: Path_) -> list[tuple[Path_, dict]]:
        value = parent.get(field)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem((*path, field), f"expected a list, got {_type_name(value)}")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                out.append(((*path, field, i), item))
            else:
                self.problem((*path, field, i), f"expected a mapping, got {_type_name(item)}")
        return out

    def add(self, kind: str, key: str, name: str, raw: Mapping[str, Any], path: Path_, *,
            drop: Iterable[str] = (), refs: Optional[dict[str, str]] = None) -> Entity:
        explicit_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        body = {k: v for k, v in raw.items() if k != "id" and k not in drop}
        entity = Entity(kind, key, name, body, dict(refs or {}), f"{_fmt(path)} (line {self.line(path)})", explicit_id)
        label = f"{kind.replace('_', ' ')} '{name}'"
        if key in self.seen:
            self.problem(path, f"duplicate {kind.replace('_', ' ')} '{name}': {self.seen[key]} has the same key "
                               f"'{key}'", label)
        else:
            self.seen[key] = entity.position
            self.entities.append(entity)
        if explicit_id is not None:
            if (kind, explicit_id) in self.by_id:
                self.problem((*path, "id"), f"duplicate {kind.replace('_', ' ')} id", label)
            self.by_id[(kind, explicit_id)] = key
        self.check_schema(kind, body, path, label)
        self.check_secrets(kind, name, body, path, label)
        return entity

    def check_schema(self, kind: str, body: Mapping[str, Any], path: Path_, label: str) -> None:
        schema_name = SCHEMA_OF_KIND[kind]
        checked = dict(body)
        if kind == "route" and "expression" in body:
            schema_name = "RouteExpression"
        if kind == "service" and isinstance(body.get("url"), str) and "host" not in body:
            if not ENV_PLACEHOLDER.search(body["url"]):  # decK fills it in; Kong checks the result
                problem = url_problem(body["url"])
                if problem:
                    self.problem((*path, "url"), problem, label)
            checked["host"] = "placeholder"
        if kind == "sni":
            checked["certificate"] = {"id": "placeholder"}
        if kind == "target" and "target" in body and body["target"] is None:
            self.problem(path, "'target' is required: the target's address, <host>[:<port>] (Kong's targets "
                               "schema)", label)
        for where, message in schema_problems(checked, schema_name, path, lambda p: _secret_position(kind, p)):
            self.problem(where, message, label)
        tags = body.get("tags")
        for i, tag in enumerate(tags if isinstance(tags, list) else []):
            if isinstance(tag, str) and not _TAG.fullmatch(tag):
                self.problem((*path, "tags", i), f"got {_show(tag)}; Kong's tags are printable characters other "
                                                 "than ',' and '/' (Kong's typedefs.lua validate_tag)", label)
        if kind == "route":
            problem = route_match_problem(body)
            if problem:
                self.problem(path, problem, label)

    def check_secrets(self, kind: str, name: str, body: Mapping[str, Any], path: Path_, label: str) -> None:
        if kind in CREDENTIAL_SECRET_FIELDS:
            for field in CREDENTIAL_SECRET_FIELDS[kind]:
                if field in body:
                    self.check_secret(body[field], (*path, field), f"{name}_{field}",
                                      field in VAULT_REFERENCEABLE.get(kind, ()), label)
        if kind == "plugin" and isinstance(body.get("config"), dict):
            self.check_config_secrets(body["config"], (*path, "config"), name, label)

    def check_config_secrets(self, config: Any, path: Path_, name: str, label: str, secret: bool = False) -> None:
        if isinstance(config, dict):
            for key, value in config.items():
                self.check_config_secrets(value, (*path, key), name,
                                          label, secret or (isinstance(key, str) and is_secret_config_field(key)))
        elif isinstance(config, list):
            for i, value in enumerate(config):
                self.check_config_secrets(value, (*path, i), name, label, secret)
        elif secret and isinstance(config, str):
            self.check_secret(config, path, f"{name}_{path[-1] if isinstance(path[-1], str) else path[-2]}",
                              True, label)

    def check_secret(self, value: Any, path: Path_, hint: str, vault: bool, label: str) -> None:
        if not isinstance(value, str) or value == "" or is_secret_form(value):
            return
        if VAULT_REFERENCE.fullmatch(value.strip()):
            if not vault:
                self.problem(path, "Kong does not resolve vault references in this field (not referenceable); "
                                   "use decK's ${{ env \"DECK_NAME\" }} with the value in "
                                   f"{SECRETS_KEY}.DECK_NAME", label)
            return
        suggested = "DECK_" + re.sub(r"[^A-Z0-9]+", "_", hint.upper()).strip("_")
        alternative = " or a vault reference {vault://<prefix>/<path>}" if vault else ""
        # The value itself is never shown.
        self.problem(path, f"a secret in plain text; write ${{{{ env \"{suggested}\" }}}}{alternative} "
                           f"instead (an authentication scheme word may precede it: "
                           f"{'/'.join(AUTH_SCHEMES)}) and set the value with `pulumi config set --secret --path "
                           f"'{SECRETS_KEY}.{suggested}' ...`", label)

    def check_templates(self, value: Any, path: Path_) -> None:
        """Every ``${{ ... }}`` is decK's env form, its name is not decK's own setting, and it is a
        secret of the stack."""
        for where, action, name in templates(value, path):
            if name is None and not action.rstrip().endswith("}}"):
                self.problem(where, "an unclosed ${{ (decK's template delimiters are ${{ and }})")
            elif name is None:
                self.problem(where, f"got {_show(action)}; only decK's ${{{{ env \"DECK_NAME\" }}}} is supported "
                                    "here (a name of DECK_ and upper-case letters, digits, _)")
            elif is_deck_setting(name):
                self.problem(where, f"{name} is decK's own setting (--{name[5:].lower().replace('_', '-')}), "
                                    "which decK would read as its configuration; choose another DECK_ name")
            else:
                self.env_names.add(name)
                if name not in self.secret_names:
                    self.problem(where, f"{name} is not set: set it with `pulumi config set --secret "
                                        f"--path '{SECRETS_KEY}.{name}' ...`")

    def reference(self, path: Path_, field: str, kind: str, value: Any, label: str, *,
                  as_object: bool) -> None:
        """Queue a reference to resolve once every entity is known."""
        self.pending_refs.append((path, field, kind, label, value, "object" if as_object else "string"))

    def resolve(self, path: Path_, field: str, kind: str, label: str, value: Any, form: str) -> Optional[str]:
        ident: Any
        if form == "object":
            if not (isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("name", "id")):
                self.problem((*path, field), f"expected {{name: <{kind} name>}} or {{id: <{kind} id>}} (decK's form)",
                             label)
                return None
            (how, ident), = value.items()
        else:
            if isinstance(value, dict) and len(value) == 1 and "id" in value:
                value = value["id"]
            how, ident = "name or id", value
        if not isinstance(ident, str) or not ident:
            self.problem((*path, field), f"expected the {kind}'s {how} as a string", label)
            return None
        key = (self.by_name.get((kind, ident)) if how != "id" else None) or \
            (self.by_id.get((kind, ident)) if how != "name" else None)
        if key is None:
            known = sorted({n for (k, n) in self.by_name if k == kind} | {i for (k, i) in self.by_id if k == kind})
            self.problem((*path, field), f"no {kind} with {how} '{ident}' in this file"
                                         f"{'; ' + kind + 's: ' + ', '.join(known) if known else ''}", label)
        return key


def load_gateway_file(path: str, *, root: Path | str = PROJECT_DIR,
                      secret_names: frozenset[str] = frozenset()) -> GatewayFile:
    """Read, parse and check the gateway file ``path`` (relative to ``root``, the project directory).

    ``secret_names``: the keys of the stack's ``kong-aws:gatewaySecrets`` (the names only). Returns
    a :class:`GatewayFile`. Raises :class:`GatewayFileError` listing every problem: a missing or
    unreadable file, bad YAML, a document that is not a mapping, ``_format_version`` missing or not
    ``"3.0"``, an unsupported key, a list or mapping of the wrong shape at any level, and each
    entity's problems (module docstring). Raises nothing else for any file's content."""
    import yaml

    shown = str(path)
    full = Path(root) / path
    try:
        text = full.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GatewayFileError([f"{shown}: no such file (the path is relative to the project directory {root})"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise GatewayFileError([f"{shown}: cannot be read as UTF-8 text ({type(error).__name__})"]) from None
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        document = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        raise GatewayFileError([f"{shown}{where}: not valid YAML: {problem}"]) from None
    finally:
        loader.dispose()
    if not isinstance(document, dict):
        raise GatewayFileError([f"{shown}: expected a mapping with _format_version: \"{FORMAT_VERSION}\" "
                                f"(decK's file format), got {_type_name(document) if document is not None else 'an empty file'}"])
    walk = _Loader(shown, secret_names)
    walk.record_lines(node, ())
    _walk_document(walk, document)
    if walk.problems:
        raise GatewayFileError(walk.problems)
    order = {kind: i for i, kind in enumerate(KINDS)}
    entities = tuple(sorted(walk.entities, key=lambda e: order[e.kind]))
    return GatewayFile(path=shown, document=document, entities=entities, env_names=frozenset(walk.env_names),
                       plugin_names=frozenset(e.body["name"] for e in entities
                                              if e.kind == "plugin" and isinstance(e.body.get("name"), str)))


def _walk_document(w: _Loader, document: dict[str, Any]) -> None:
    version = document.get("_format_version")
    if version is None:
        w.problem((), f"_format_version is missing; write _format_version: \"{FORMAT_VERSION}\"")
    elif version != FORMAT_VERSION:
        quoted = " (quote it: YAML reads 3.0 as a number)" if version == 3.0 else ""
        w.problem(("_format_version",), f"got {_show(version)}; expected \"{FORMAT_VERSION}\"{quoted}")
    for key in document:
        if key == "_info":
            w.problem(("_info",), "not allowed: the stack sets _info.select_tags (its ownership tag) itself, and "
                                  "_info.defaults is not supported (write the values on the entities)")
        elif key not in _TOP_LEVEL:
            w.problem((key,), f"not supported here; top-level keys: {', '.join(_TOP_LEVEL)}")
    w.check_templates(document, ())

    plugins: list[tuple[Path_, dict, dict[str, str]]] = []  # path, raw, scope given by nesting

    for path, raw in w.items(document, "vaults", ()):
        prefix = raw.get("prefix")
        w.add("vault", f"vault:{prefix}", str(prefix), raw, path)
        if isinstance(prefix, str):
            w.by_name[("vault", prefix)] = f"vault:{prefix}"

    for path, raw in w.items(document, "ca_certificates", ()):
        cert, given = raw.get("cert"), raw.get("id")
        ident: str = given if isinstance(given, str) else (
            hashlib.sha256(cert.encode()).hexdigest() if isinstance(cert, str) else "?")
        w.add("ca_certificate", f"ca_certificate:{ident}", ident[:12], raw, path)

    for path, raw in w.items(document, "certificates", ()):
        cert_id = raw.get("id")
        if not isinstance(cert_id, str) or not cert_id:
            w.problem(path, "'id' is required on a certificate (decK's file schema: id, cert and key)")
            cert_id = f"?{path[-1]}"
        key = f"certificate:{cert_id}"
        snis = w.items(raw, "snis", path)
        w.add("certificate", key, cert_id, raw, path, drop=("snis",))
        for sni_path, sni in snis:
            w.add("sni", f"sni:{sni.get('name')}", str(sni.get("name")), sni, sni_path, refs={"certificate": key})

    for path, raw in w.items(document, "upstreams", ()):
        name = _required_name(w, "upstream", raw, path)
        key = f"upstream:{name}"
        targets = w.items(raw, "targets", path)
        w.add("upstream", key, name, raw, path, drop=("targets",))
        w.by_name[("upstream", name)] = key
        for target_path, target in targets:
            label = f"{name}/{target.get('target')}"
            w.add("target", f"target:{label}", label, target, target_path, drop=("upstream",),
                  refs={"upstream": key})

    routes: list[tuple[Path_, dict, Optional[str]]] = []
    for path, raw in w.items(document, "services", ()):
        name = _required_name(w, "service", raw, path)
        key = f"service:{name}"
        w.by_name[("service", name)] = key
        nested_routes = w.items(raw, "routes", path)
        nested_plugins = w.items(raw, "plugins", path)
        w.add("service", key, name, raw, path, drop=("routes", "plugins", "client_certificate"))
        if "client_certificate" in raw:
            w.reference(path, "client_certificate", "certificate", raw["client_certificate"],
                        f"service '{name}'", as_object=False)
        routes += [(p, r, key) for p, r in nested_routes]
        plugins += [(p, r, {"service": key}) for p, r in nested_plugins]
    routes += [(p, r, None) for p, r in w.items(document, "routes", ())]
    route_entities: list[tuple[Path_, dict, Optional[str], str]] = []
    for path, raw, service_key in routes:
        name = _required_name(w, "route", raw, path)
        key = f"route:{name}"
        w.by_name[("route", name)] = key
        route_entities.append((path, raw, service_key, key))
        plugins += [(p, r, {"route": key}) for p, r in w.items(raw, "plugins", path)]

    for path, raw in w.items(document, "consumers", ()):
        username, custom_id = raw.get("username"), raw.get("custom_id")
        found = username if isinstance(username, str) and username else custom_id
        if isinstance(found, str) and found:
            name = found
        else:
            w.problem(path, "a consumer needs a username or a custom_id (decK's file schema)")
            name = f"?{path[-1]}"
        key = f"consumer:{name}"
        for alias in (username, custom_id):
            if isinstance(alias, str):
                w.by_name[("consumer", alias)] = key
        plugins += [(p, r, {"consumer": key}) for p, r in w.items(raw, "plugins", path)]
        w.add("consumer", key, name, raw, path, drop=("plugins", *_CREDENTIAL_LISTS, *_UNSUPPORTED_CONSUMER_LISTS))
        for field, kind in _CREDENTIAL_LISTS.items():
            for cred_path, cred in w.items(raw, field, path):
                suffix = credential_suffix(kind, cred, int(cred_path[-1]))
                w.add(kind, f"{kind}:{name}/{suffix}", f"{name}/{suffix}", cred, cred_path, drop=("consumer",),
                      refs={"consumer": key})
        for field in _UNSUPPORTED_CONSUMER_LISTS:
            if field in raw:
                w.problem((*path, field), f"not supported by kong-aws; a consumer may hold plugins, "
                                          f"{', '.join(_CREDENTIAL_LISTS)}")

    # Routes after every service is known (a top-level route may name any service).
    for path, raw, service_key, key in route_entities:
        refs = {"service": service_key} if service_key else {}
        entity = w.add("route", key, key.split(":", 1)[1], raw, path, drop=("plugins", "service"), refs=refs)
        if service_key and "service" in raw:
            w.problem((*path, "service"), "a route nested in a service takes that service; remove 'service'",
                      f"route '{entity.name}'")
        elif "service" in raw:
            w.reference(path, "service", "service", raw["service"], f"route '{entity.name}'", as_object=True)

    plugins += [(p, r, {}) for p, r in w.items(document, "plugins", ())]
    _add_plugins(w, plugins)
    _resolve(w)


def _required_name(w: _Loader, kind: str, raw: Mapping[str, Any], path: Path_) -> str:
    name = raw.get("name")
    if isinstance(name, str) and name:
        return name
    w.problem(path, f"'name' is required on a {kind} (the stack keys entities by name, so that previews show "
                    "which one changes)")
    return f"?{path[-1]}"


def _add_plugins(w: _Loader, plugins: list[tuple[Path_, dict, dict[str, str]]]) -> None:
    for path, raw, nested in plugins:
        name = raw.get("name")
        shown = name if isinstance(name, str) else f"?{_fmt(path)}"  # reported by the schema check
        label = f"plugin '{shown}'"
        if isinstance(name, str) and name not in BUNDLED_PLUGINS:
            w.problem((*path, "name"), f"'{name}' is not a plugin Kong bundles{_suggestion(name)}; see "
                                       "components/gateway_config.py BUNDLED_PLUGINS (Kong 3.9 OSS and 3.10 Enterprise)",
                      label)
        scope: dict[str, Any] = {}
        for field in PLUGIN_SCOPES:
            if field in raw:
                if field in nested:
                    w.problem((*path, field), f"a plugin nested in a {field} takes that {field}; remove '{field}'",
                              label)
                else:
                    scope[field] = raw[field]
        if "consumer_group" in raw:
            w.problem((*path, "consumer_group"), "consumer groups are not supported by kong-aws", label)
        # The key needs the scopes' keys: resolve now (every scope entity is known by now).
        refs = dict(nested)
        for field, value in scope.items():
            key = w.resolve(path, field, field, label, value, "string")
            if key:
                refs[field] = key
        scope_text = "+".join(f"{field}:{refs[field].split(':', 1)[1]}" for field in PLUGIN_SCOPES if field in refs)
        instance = raw.get("instance_name")
        key = f"plugin:{shown}{f':{instance}' if isinstance(instance, str) else ''}@{scope_text or 'global'}"
        w.add("plugin", key, f"{shown}{f':{instance}' if isinstance(instance, str) else ''}", raw, path,
              drop=(*PLUGIN_SCOPES, "consumer_group"), refs=refs)


def _resolve(w: _Loader) -> None:
    resolved: dict[Path_, dict[str, str]] = {}
    for path, field, kind, label, value, form in w.pending_refs:
        key = w.resolve(path, field, kind, label, value, form)
        if key:
            resolved.setdefault(path, {})[field] = key
    if not resolved:
        return
    positions = {e.position.rsplit(" (line", 1)[0]: i for i, e in enumerate(w.entities)}
    for path, refs in resolved.items():
        i = positions.get(_fmt(path))
        if i is not None:  # None: a duplicate, already reported
            w.entities[i] = dataclasses.replace(w.entities[i], refs={**w.entities[i].refs, **refs})
