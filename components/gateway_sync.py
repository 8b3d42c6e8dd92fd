"""hybrid-eks: the stack's gateway file applied to the self-hosted control plane from inside the cluster.

:class:`GatewaySync` runs decK's ``gateway sync`` in a Kubernetes Job in Kong's namespace. The Job's
pod carries the labels the namespace's NetworkPolicies admit to the Admin API
(:func:`components.network_policy.kong_network_policies`, ``admin_client_labels``), so the Admin API
stays a ClusterIP Service that nothing outside the cluster reaches. decK verifies the Admin API's
certificate with the CA :class:`components.kong_hybrid.KongHybrid` issues it from, and with Kong RBAC
sends the super admin's token, read from its Secret when the pod starts.

Facts this module builds on:

- decK (github.com/Kong/deck, cmd/root.go and cmd/gateway_sync.go, v1.65): ``deck gateway sync
  [flags] [kong-state-files...]``; ``--kong-addr`` (the Admin API), ``--ca-cert-file`` (a CA that
  verifies the Admin API's certificate), ``--headers`` (``name:value``, repeatable),
  ``--select-tag`` (only entities with these tags are synced; the file's entities get them),
  ``--analytics`` (usage reports to Kong, on by default), ``--no-color``, ``--silence-events`` (no
  per-entity events on stdout). decK also reads each of its settings from ``DECK_<FLAG>`` (viper,
  prefix ``deck``): :data:`components.gateway_config.DECK_SETTINGS` lists them, and no variable
  the Job sets may be one. cmd/common.go ``determineSelectorTag``: a file's ``_info.select_tags``
  and ``--select-tag`` must be the same tags.
- Kong/go-database-reconciler pkg/file/readfile.go ``renderTemplate``: before parsing the file,
  decK renders it as a Go template with delimiters ``${{`` ``}}``; ``env "NAME"`` inserts the
  environment variable's text as it is (names must start with ``DECK_``; an unset one is an error).
  The rendered text is then read as YAML, of which JSON is a subset. :func:`render_file` writes the
  file so that any value survives that insertion (:func:`escape`). The gateway file loader
  (:func:`components.gateway_config.load_gateway_file`) admits no other template than that ``env``
  (no ``toInt`` or other conversion), and :func:`check_gateway` holds any document to the same.
- The image: ``kong/deck`` on Docker Hub, tagged with the release's git tag (Kong/deck
  .github/workflows/release.yaml, ``type=semver,pattern={{raw}}``). Since v1.65.2 it is distroless
  (Kong docs, developer.konghq.com/deck/build-non-distroless-docker-image/; Kong/deck pull request
  2164: ``gcr.io/distroless/static-debian12:nonroot``), whose ``nonroot`` user is uid 65532
  (GoogleContainerTools/distroless README). The user is named, not numbered, in the image, so the
  pod names the number for ``runAsNonRoot`` to be checkable.
- pulumi-kubernetes (provider/pkg/await/job.go, await/checker/job/check.go, read at v4.32.0 and on its
  main branch; the program pins 4.34.2): a created
  ``batch/v1`` Job is awaited until its ``Complete`` condition, for 10 minutes by default; a
  ``Failed`` condition with reason ``BackoffLimitExceeded`` or ``DeadlineExceeded`` fails the
  operation at once, and so ``pulumi up``. A change of the Job's ``metadata.name`` or
  ``spec.template`` replaces it (provider/pkg/provider/diff.go ``forceNewProperties``), creating the
  new Job before deleting the old one when the name changes; so do changes of an immutable
  ConfigMap's or Secret's data.
"""

import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Optional, Required, TypedDict, cast

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.gateway_config import DECK_NAME, TEMPLATE, is_deck_setting, templates
from components.kong_facts import ADMIN_HTTPS_PORT, chart_service_host
from components.kong_settings import KubernetesSecretKey
from components.package import type_token

#: decK's image on Docker Hub and the release this project runs (see the module docstring).
DECK_REPOSITORY = "kong/deck"
DECK_VERSION = "v1.65.2"
#: The distroless ``nonroot`` user and group the image runs as.
DECK_USER = 65532
#: decK looks for ``$HOME/.deck.yaml`` at start (cmd/root.go ``initConfig``) and stops when it cannot
#: tell its home; the distroless ``nonroot`` user's home, set because the pod names the uid.
DECK_HOME = "/home/nonroot"
#: Where the pod mounts the ConfigMap, and its keys: the gateway file and the Admin API's CA.
MOUNT = "/etc/deck"
FILE_KEY = "kong.yaml"
CA_KEY = "ca.crt"
#: The environment variable that carries the RBAC token to ``--headers``. Not ``DECK_``-prefixed, so
#: that the gateway file's ``env`` cannot read it (readfile.go ``getPrefixedEnvVar``).
TOKEN_ENV = "KONG_ADMIN_TOKEN"
#: The Job: tries (a failed sync is retried twice: decK's sync is idempotent), how long it may run
#: in all (less than pulumi-kubernetes' 10-minute await, so that the Job's own DeadlineExceeded is
#: what fails the update), and the container's resources.
BACKOFF_LIMIT = 2
ACTIVE_DEADLINE_SECONDS = 300
RESOURCES = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}
#: YAML's printable characters (YAML 1.1 and 1.2, "Character Set"), less the line breaks.
_PRINTABLE = re.compile(r"[\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")


class GatewaySyncSettings(TypedDict, total=False):
    """The gateway file a hybrid install applies, as the stack gives it."""

    document: Required[dict[str, Any]]
    """the decK file (``_format_version`` ``3.0``), as :func:`components.gateway_config.deck_document` returns it; no secret in it: secrets are ``${{ env "DECK_..." }}``"""
    select_tag: Required[str]
    """the tag of the entities the stack manages, :func:`components.gateway_config.stack_tag`
    (``kong-aws:<project>:<stack>``; Kong refuses ``/`` in a tag)"""
    env: dict[str, pulumi.Input[str]]
    """values of the ``DECK_...`` variables the file names (kept secret; default none)"""


class GatewaySyncArgs(GatewaySyncSettings, total=False):
    """Arguments of :class:`GatewaySync`: the file and where it goes. The component's ``depends_on``
    (the control plane's Helm release) is what its resources wait for."""

    namespace: Required[str]
    """Kong's namespace"""
    control_plane_release: Required[str]
    """the control plane's Helm release: its Admin API Service ``<release>-kong-admin`` (TLS, 8444)"""
    admin_ca_pem: Required[pulumi.Input[str]]
    """the CA that issued the Admin API's certificate, PEM"""
    image: Required[pulumi.Input[str]]
    """decK's image reference (``<repository>:<tag>``)"""
    pod_labels: Required[dict[str, str]]
    """labels the NetworkPolicies admit to the Admin API"""
    admin_token: KubernetesSecretKey
    """with Kong RBAC: the Secret key that holds the super admin's token (default none: no RBAC)"""
    node_selector: pulumi.Input[dict[str, str]]
    """the pod's nodeSelector (default none)"""


def escape(text: str) -> str:
    """``text`` as the inside of a YAML double-quoted scalar: ``"`` and ``\\`` escaped, every
    character YAML does not print (controls, line breaks, U+2028/U+2029, BOM) as its short escape
    or a ``\\u`` escape of four hex digits. What decK inserts between the quotes reads back as
    ``text`` (YAML 1.1 and 1.2, "Double-Quoted Style" escapes; JSON's string escapes are a subset)."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[char])
        elif _PRINTABLE.fullmatch(char):
            out.append(char)
        else:
            out.append(f"\\u{ord(char):04x}")
    return "".join(out)


def _string(value: str) -> str:
    parts, position = [], 0
    for action in TEMPLATE.finditer(value):
        parts += [escape(value[position:action.start()]), action.group()]
        position = action.end()
    return '"' + "".join(parts) + escape(value[position:]) + '"'


def _emit(value: Any, indent: str, where: str) -> str:
    inner = indent + "  "
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        return "{\n" + ",\n".join(f"{inner}{_string(str(k))}: {_emit(v, inner, f'{where}.{k}')}"
                                  for k, v in value.items()) + f"\n{indent}}}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(f"{inner}{_emit(v, inner, f'{where}[{i}]')}"
                                  for i, v in enumerate(value)) + f"\n{indent}]"
    raise ValueError(f"gateway file: {where} is a {type(value).__name__}, not a YAML value")


def render_file(document: Mapping[str, Any]) -> str:
    """The gateway file as decK reads it: JSON (a subset of YAML), indented, in which every
    string is double-quoted with its text escaped (:func:`escape`) and its decK actions
    (``${{ ... }}``) left as they are, inside the quotes, so that decK renders them first. Together with the escaped variable values :class:`GatewaySync` gives decK, any
    secret text reads back unchanged. Raises ``ValueError`` for a value that is not a string,
    number, boolean, null, list or mapping."""
    return _emit(document, "", "$") + "\n"


def check_gateway(settings: Mapping[str, Any]) -> list[str]:
    """What is wrong with a :class:`GatewaySyncSettings` for decK (empty: nothing): a document
    without ``_format_version``; an empty select tag, or ``_info.select_tags`` other than exactly it
    (decK refuses a file and a flag that disagree); a template other than ``${{ env "DECK_NAME" }}``
    (:func:`components.gateway_config.templates`); a variable the file reads that is not given (decK
    stops at an unset one); a given variable not named ``DECK_`` and upper-case letters, digits and
    ``_``, or named as one of decK's own settings
    (:func:`components.gateway_config.is_deck_setting`)."""
    document, tag = settings.get("document"), settings.get("select_tag")
    env = dict(settings.get("env") or {})
    problems = []
    if not isinstance(document, Mapping) or "_format_version" not in document:
        problems.append("the gateway file is not a decK file (no _format_version)")
        document = {}
    if not tag:
        problems.append("the select tag is empty")
    file_tags = (document.get("_info") or {}).get("select_tags")
    if file_tags is not None and sorted(set(file_tags)) != [tag]:
        problems.append(f"the file's _info.select_tags {file_tags} are not the stack's tag [{tag!r}]")
    unset: set[str] = set()
    for _, action, name in templates(document):
        if name is None:
            problems.append(f"the file has {action[:40]!r}: only decK's ${{{{ env \"DECK_NAME\" }}}} is supported "
                            "(DECK_ and upper-case letters, digits, _)")
        elif name not in env and name not in unset:
            unset.add(name)
            problems.append(f"the file reads {name}, which has no value")
    for name in sorted(env):
        if not DECK_NAME.fullmatch(name):
            problems.append(f"variable {name} is not named DECK_<upper-case letters, digits, _>")
        elif is_deck_setting(name):
            problems.append(f"variable {name} is decK's own setting (--{name[5:].lower().replace('_', '-')})")
    return problems


def job_name(control_plane_release: str, digest: str) -> str:
    """The Job's name (also its ConfigMap's and Secret's): ``<release>-gateway-sync-<10 hex>``, the
    prefix cut so that the whole stays a 63-character label (the Job controller labels its pods
    with the Job's name)."""
    return f"{f'{control_plane_release}-gateway-sync'[:52].rstrip('-')}-{digest[:10]}"


def sync_args(namespace: str, control_plane_release: str, select_tag: str, rbac: bool) -> list[str]:
    """decK's arguments: ``gateway sync`` of the mounted file to the Admin API Service by its
    cluster DNS name (the name its certificate carries), verified with the mounted CA, entities
    selected by ``select_tag``; no usage reports, no colours, no per-entity events (which would
    print entity fields, secrets included, to the pod's log). With ``rbac``, the token header,
    its value expanded by Kubernetes from :data:`TOKEN_ENV` (``$(VAR)`` in ``args``)."""
    address = f"https://{chart_service_host(control_plane_release, 'admin', namespace)}:{ADMIN_HTTPS_PORT}"
    args = ["gateway", "sync", f"{MOUNT}/{FILE_KEY}", "--kong-addr", address, "--ca-cert-file", f"{MOUNT}/{CA_KEY}",
            "--select-tag", select_tag, "--analytics=false", "--no-color", "--silence-events"]
    if rbac:
        args += ["--headers", f"Kong-Admin-Token:$({TOKEN_ENV})"]
    return args


def _depends_on(opts: Optional[pulumi.ResourceOptions]) -> list[pulumi.Resource]:
    found = opts.depends_on if opts is not None else None
    if found is None:
        return []
    items = list(found) if isinstance(found, Sequence) else [found]
    if not all(isinstance(item, pulumi.Resource) for item in items):
        raise ValueError("GatewaySync: depends_on must name resources")
    return items  # type: ignore[return-value]


class GatewaySync(pulumi.ComponentResource):
    """decK's ``gateway sync`` of a gateway file to a self-hosted control plane, as a Kubernetes
    Job (type ``kong-aws:index:GatewaySync``).

    Children, all named ``<release>-gateway-sync-<digest>`` in the cluster (:func:`job_name`),
    ``digest`` a SHA-256 over what the Job runs (the file, the CA, the image, decK's arguments, the
    variables' names and an HMAC of their values):

    - ``{name}-file``: an immutable ConfigMap with the file (:func:`render_file`) and the CA;
    - ``{name}-env`` (when ``env`` is given): an immutable Secret with the ``DECK_...`` values,
      escaped (:func:`escape`), and ``{name}-env-key`` (``RandomPassword``), the HMAC key that
      lets a new value change the digest without the digest telling anything of the value;
    - ``{name}-job``: the Job. Its pod runs decK (:func:`sync_args`) as uid 65532 with a read-only
      root, no capability, no privilege escalation, ``RuntimeDefault`` seccomp and no service account
      token, ``restartPolicy: Never``; the Job tries :data:`BACKOFF_LIMIT` more times and gives up after
      :data:`ACTIVE_DEADLINE_SECONDS`; it is never deleted by Kubernetes (no
      ``ttlSecondsAfterFinished``: Pulumi would see it vanish).

    A new file, CA, image or secret value is a new digest: the engine creates the new ConfigMap,
    Secret and Job, awaits the Job's completion, and then deletes the old ones; a Job that fails
    fails ``pulumi up`` and leaves the old ones in place. The same inputs change nothing.

    Raises ``ValueError`` with every problem :func:`check_gateway` finds, before declaring anything.

    Outputs: ``job_name``, ``env_digest`` (the HMAC, secret; ``""`` without variables).
    """

    job_name: pulumi.Output[str]
    """the Job's name (and its ConfigMap's and Secret's)"""
    env_digest: pulumi.Output[str]
    """HMAC-SHA256 of the variables' values (hex, secret), ``""`` without variables"""

    def __init__(self, name: str, args: GatewaySyncArgs, opts: Optional[pulumi.ResourceOptions] = None):
        problems = check_gateway(args)
        if problems:
            raise ValueError("gateway sync: " + "; ".join(problems))
        after = _depends_on(opts)
        super().__init__(type_token(GatewaySync), name, None, opts)
        namespace, release, tag = args["namespace"], args["control_plane_release"], args["select_tag"]
        env = dict(args.get("env") or {})
        token = args.get("admin_token")
        text = render_file(args["document"])
        command = sync_args(namespace, release, tag, token is not None)

        secret_values = cast(pulumi.Output[dict[str, str]], pulumi.Output.secret(pulumi.Output.all(**env)))
        if env:
            key = random.RandomPassword(f"{name}-env-key", length=32, special=False,
                                        opts=pulumi.ResourceOptions(parent=self))
            self.env_digest = pulumi.Output.secret(pulumi.Output.all(key.result, secret_values).apply(
                lambda v: hmac.new(v[0].encode(), json.dumps(v[1], sort_keys=True).encode(), hashlib.sha256).hexdigest()))
        else:
            self.env_digest = pulumi.Output.from_input("")

        def digest(values: list) -> str:
            ca, image, env_digest = values
            what = {"file": text, "ca": ca, "image": image, "args": command, "env": sorted(env), "values": env_digest}
            return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()

        # The HMAC tells nothing of the values without its key, which stays in the state as a secret.
        self.job_name = pulumi.Output.unsecret(pulumi.Output.all(
            args["admin_ca_pem"], args["image"], self.env_digest).apply(lambda v: job_name(release, digest(v))))
        labels = {"app.kubernetes.io/name": "deck", "app.kubernetes.io/component": "gateway-sync",
                  "app.kubernetes.io/part-of": "kong", "app.kubernetes.io/managed-by": "pulumi"}
        metadata = k8s.meta.v1.ObjectMetaArgs(name=self.job_name, namespace=namespace, labels=labels)
        child = pulumi.ResourceOptions(parent=self, depends_on=after)

        config_map = k8s.core.v1.ConfigMap(
            f"{name}-file", metadata=metadata, immutable=True,
            data={FILE_KEY: text, CA_KEY: args["admin_ca_pem"]}, opts=child)
        made: list[pulumi.Resource] = [config_map]
        container_env: list[Any] = [{"name": "HOME", "value": DECK_HOME}]
        if env:
            secret = k8s.core.v1.Secret(
                f"{name}-env", metadata=metadata, immutable=True, type="Opaque",
                string_data=secret_values.apply(lambda values: {k: escape(v) for k, v in values.items()}),
                opts=child)
            made.append(secret)
            container_env += [{"name": var, "valueFrom": {"secretKeyRef": {"name": self.job_name, "key": var}}}
                              for var in sorted(env)]
        if token is not None:
            container_env.append({"name": TOKEN_ENV, "valueFrom": {
                "secretKeyRef": {"name": token.name, "key": token.key}}})

        pod_spec = {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "nodeSelector": pulumi.Output.from_input(args.get("node_selector") or {}),
            "securityContext": {"runAsNonRoot": True, "runAsUser": DECK_USER, "runAsGroup": DECK_USER,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "deck", "image": args["image"], "args": command, "env": container_env,
                "resources": RESOURCES,
                "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}},
                "volumeMounts": [{"name": "gateway-file", "mountPath": MOUNT, "readOnly": True}],
            }],
            "volumes": [{"name": "gateway-file", "configMap": {"name": self.job_name}}],
        }
        job = k8s.batch.v1.Job(
            f"{name}-job", metadata=metadata,
            spec=cast(Any, {"backoffLimit": BACKOFF_LIMIT, "activeDeadlineSeconds": ACTIVE_DEADLINE_SECONDS,
                            "template": {"metadata": {"labels": {**labels, **args["pod_labels"]}}, "spec": pod_spec}}),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*after, *made]))
        self.job_name = job.metadata.apply(lambda m: m["name"])
        self.register_outputs({"jobName": self.job_name, "envDigest": self.env_digest})
