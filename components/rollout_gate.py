"""A rollout gate: `pulumi up` succeeds only when the new data planes really run and, with a managed
Konnect control plane, really reached Konnect.

Why: the ECS service waits for a steady state (``wait_for_steady_state``), but a deployment that the
circuit breaker rolls back also ends steady, on the old task definition; the update then succeeds
and Pulumi deletes what the new deployment replaced (the old pin, the old certificate's secret
version, the old task definition) while the rolled-back tasks still present the old certificate.
And ``GET /status`` or ``kong health`` say nothing about whether a data plane reached its control
plane. The gate runs after the service update; when it fails, the update fails, and Pulumi deletes
none of the replaced resources (they stay in the state, pending deletion, until an update succeeds),
so the old pin keeps the rolled-back tasks connected.

What it checks, polling every ``poll_seconds`` until ``timeout_seconds``:

1. ECS (``DescribeServices``, ECS API reference): the service's PRIMARY deployment runs the expected
   task definition revision, its ``rolloutState`` is ``COMPLETED`` (the deployment circuit breaker
   marks a failed one ``FAILED`` and starts a rollback deployment of the previous revision), it runs
   its desired count, and no other deployment is left.
2. With a managed control plane, Konnect's nodes API (``GET /v2/control-planes/{id}/nodes``,
   ../shared/reference/konnect-control-planes-subset.json ``list-dataplane-nodes``: ``created_at``,
   ``last_ping`` in epoch seconds): at least the desired count of data plane nodes that Konnect first
   saw after the deployment started and that pinged within ``ping_freshness_seconds``. A data plane
   whose certificate Konnect does not trust never appears there.

The provider runs in Pulumi's dynamic provider process; it imports botocore and httpx only when it
runs, and signs as the stack's AWS provider does: the standard credential chain of
``aws:profile`` (when set), then each role of ``aws:assumeRoles`` in turn (STS ``AssumeRole`` with
its ``roleArn``, ``externalId`` and ``sessionName``). Static keys in config (``aws:accessKey``) and
``aws:assumeRoleWithWebIdentity`` are not followed; give such a stack a profile.
"""

import dataclasses
import datetime
import enum
import json
import time
from collections.abc import Callable
from typing import Any, Optional, TypedDict
from urllib.parse import parse_qs, urlsplit

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

class RolloutGateMode(str, enum.Enum):
    """What the gate waits for: the ECS rollout and the data planes' connection to Konnect (with a
    managed control plane; without one, the ECS rollout only), the ECS rollout only, or nothing
    (an emergency switch: a Konnect outage then does not block a deployment)."""

    FULL = "full"
    ECS = "ecs"
    OFF = "off"


class RolloutSettings(TypedDict, total=False):
    """The rollout gate as a user chooses it (defaults: :data:`ROLLOUT_GATE_DEFAULTS`)."""

    rollout_gate: RolloutGateMode
    """``full`` (default: the ECS rollout, and with a managed control plane the data planes in Konnect), ``ecs`` or ``off``"""
    rollout_timeout_seconds: int
    """seconds `pulumi up` waits for a rollout before it fails (default 1200)"""


#: Defaults of the rollout gate, the only place they are written: 20 minutes covers a rolling
#: deployment of a few tasks (each waits for its health check grace period and two healthy checks);
#: data planes ping their control plane every 30 s (Kong's hybrid mode docs, "cluster_data_plane
#: ping"), so a node seen in the last 90 s is connected.
ROLLOUT_GATE_DEFAULTS: dict[str, Any] = {"rollout_gate": RolloutGateMode.FULL, "rollout_timeout_seconds": 1200,
                                         "poll_seconds": 15, "ping_freshness_seconds": 90}


class RolloutGateFailed(Exception):
    """The rollout did not reach the state the gate waits for; the message says what was seen."""


@dataclasses.dataclass(frozen=True)
class Seen:
    """What one look at the service showed."""

    deployment_id: str
    task_definition: str
    rollout_state: str
    running: int
    desired: int
    deployments: int
    created_at: float
    reason: str = ""

    def describe(self) -> str:
        return (f"primary deployment {self.deployment_id} runs {self.task_definition}, rolloutState "
                f"{self.rollout_state}{' (' + self.reason + ')' if self.reason else ''}, {self.running}/"
                f"{self.desired} tasks running, {self.deployments} deployment(s)")


def look_at_service(ecs: Any, cluster: str, service: str) -> Seen:
    """The service's PRIMARY deployment, from ``DescribeServices``. Raises
    :class:`RolloutGateFailed` when the service is not there."""
    answer = ecs.describe_services(cluster=cluster, services=[service])
    services = answer.get("services") or []
    if not services:
        failures = answer.get("failures") or []
        raise RolloutGateFailed(f"ECS service {service} in cluster {cluster} not found: {failures}")
    deployments = services[0].get("deployments") or []
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if primary is None:
        raise RolloutGateFailed(f"ECS service {service} has no PRIMARY deployment")
    created = primary.get("createdAt")
    created_at = created.timestamp() if isinstance(created, datetime.datetime) else float(created or 0)
    return Seen(deployment_id=primary.get("id", ""), task_definition=primary.get("taskDefinition", ""),
                rollout_state=primary.get("rolloutState", ""), running=int(primary.get("runningCount", 0)),
                desired=int(primary.get("desiredCount", 0)), deployments=len(deployments), created_at=created_at,
                reason=primary.get("rolloutStateReason", ""))


def rollout_done(seen: Seen, task_definition_arn: str) -> bool:
    """True when the deployment of ``task_definition_arn`` completed; raises
    :class:`RolloutGateFailed` as soon as it cannot anymore (rolled back, or failed)."""
    if seen.task_definition != task_definition_arn:
        raise RolloutGateFailed(
            f"ECS rolled the deployment back: {seen.describe()}, not {task_definition_arn}. The new tasks did "
            "not become healthy; their stopped reasons and logs say why (aws ecs list-tasks --desired-status "
            "STOPPED, then describe-tasks).")
    if seen.rollout_state == "FAILED":
        raise RolloutGateFailed(f"the ECS deployment failed: {seen.describe()}")
    return seen.rollout_state == "COMPLETED" and seen.running == seen.desired and seen.deployments == 1


def connected_nodes(nodes: list[dict], since: float, now: float, freshness: float) -> list[dict]:
    """The Konnect data plane nodes first seen at or after ``since`` (epoch seconds) that pinged
    within ``freshness`` seconds of ``now``."""
    return [n for n in nodes if float(n.get("created_at", 0)) >= since - 60
            and float(n.get("last_ping", 0)) >= now - freshness]


def wait_for_rollout(ecs: Any, props: dict, list_nodes: Optional[Callable[[], list[dict]]] = None,
                     clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> dict:
    """Poll until the rollout of ``props["task_definition_arn"]`` is complete and, with
    ``list_nodes`` (Konnect's nodes of the control plane), its data planes are connected; return
    the gate's outputs. Raises :class:`RolloutGateFailed` with what was seen last."""
    settings = {**ROLLOUT_GATE_DEFAULTS, **{k: v for k, v in props.items() if v is not None}}
    timeout = float(settings.get("timeout_seconds") or settings["rollout_timeout_seconds"])
    deadline = clock() + timeout
    expected = props["task_definition_arn"]
    while True:
        seen = look_at_service(ecs, props["cluster"], props["service"])
        if rollout_done(seen, expected):
            break
        if clock() >= deadline:
            raise RolloutGateFailed(f"timed out after {timeout:g} s waiting for {expected}: "
                                    f"{seen.describe()}")
        sleep(float(settings["poll_seconds"]))
    nodes: list[dict] = []
    if list_nodes is not None:
        while True:
            nodes = connected_nodes(list_nodes(), seen.created_at, clock(), float(settings["ping_freshness_seconds"]))
            if len(nodes) >= seen.desired:
                break
            if clock() >= deadline:
                raise RolloutGateFailed(
                    f"the new data planes did not reach Konnect within {timeout:g} s: "
                    f"{len(nodes)} of {seen.desired} connected since the deployment started ({seen.describe()}). "
                    "Is their certificate pinned in the control plane? Their logs show the cluster connection.")
            sleep(float(settings["poll_seconds"]))
    return {"deployment_id": seen.deployment_id, "running_count": seen.running, "connected_nodes": len(nodes)}


def _ecs_client(props: dict) -> Any:
    """botocore's ECS client for ``props["region"]``, signed as :func:`aws_provider_access` says."""
    import botocore.session

    session = botocore.session.Session(profile=props.get("profile") or None)
    keys: dict[str, str] = {}
    for role in props.get("assume_roles") or []:
        sts = session.create_client("sts", region_name=props["region"], **keys)
        request = {"RoleArn": role["roleArn"], "RoleSessionName": role.get("sessionName") or "kong-aws-rollout-gate"}
        if role.get("externalId"):
            request["ExternalId"] = role["externalId"]
        granted = sts.assume_role(**request)["Credentials"]
        keys = {"aws_access_key_id": granted["AccessKeyId"], "aws_secret_access_key": granted["SecretAccessKey"],
                "aws_session_token": granted["SessionToken"]}
    return session.create_client("ecs", region_name=props["region"], **keys)


def aws_provider_access() -> dict[str, Any]:
    """The stack's default AWS provider settings the gate signs with: ``{"profile": str | None,
    "assume_roles": [{"roleArn", "externalId"?, "sessionName"?}, ...] | None}`` from config
    ``aws:profile`` and ``aws:assumeRoles`` (JSON text, as Pulumi hands a list to a program).

    Raises ValueError naming ``aws:assumeRoles`` when it is not a list of objects with a
    ``roleArn``."""
    config = pulumi.Config("aws")
    text = config.get("assumeRoles")
    roles = None
    if text:
        try:
            roles = json.loads(text)
        except ValueError:
            raise ValueError(f"aws:assumeRoles: not JSON: {text[:80]!r}") from None
        if not isinstance(roles, list) or not all(isinstance(r, dict) and r.get("roleArn") for r in roles):
            raise ValueError(f"aws:assumeRoles: got {text[:80]!r}; expected a list of {{roleArn, externalId?, "
                             "sessionName?}} objects")
        roles = [{k: r[k] for k in ("roleArn", "externalId", "sessionName") if r.get(k)} for r in roles]
    return {"profile": config.get("profile"), "assume_roles": roles or None}


def list_nodes(client: Any, control_plane_id: str, page_size: int = 100) -> list[dict]:
    """Every data plane node of a control plane (``GET /v2/control-planes/{id}/nodes``, following
    ``page.next``), with a :class:`components.konnect_api.KonnectClient`."""
    nodes: list[dict] = []
    params: dict[str, Any] = {"page[size]": page_size}
    while True:
        body = client.request("GET", f"/v2/control-planes/{control_plane_id}/nodes", expect=(200,),
                              what="list the control plane's data plane nodes", params=params).json()
        nodes += body.get("items") or []
        after = (body.get("page") or {}).get("next")
        if not after:
            return nodes
        # ``page.next`` is the next page's link (or its cursor): send its ``page[after]``.
        cursor = (parse_qs(urlsplit(after).query).get("page[after]") or [after])[0]
        params = {"page[size]": page_size, "page[after]": cursor}


def _konnect_nodes(props: dict) -> Optional[Callable[[], list[dict]]]:
    konnect = props.get("konnect")
    if not konnect:
        return None
    from components.konnect_api import KonnectClient

    def nodes() -> list[dict]:
        with KonnectClient(konnect["api_url"], konnect["token"]) as client:
            return list_nodes(client, konnect["control_plane_id"])
    return nodes


class RolloutGateProvider(ResourceProvider):
    """The dynamic provider of :class:`EcsRolloutGate`: create and update wait (see the module
    docstring); any change of the inputs is an update, never a replacement; delete does nothing."""

    def create(self, props: dict) -> CreateResult:
        outs = wait_for_rollout(_ecs_client(props), props, _konnect_nodes(props))
        return CreateResult(id_=f"{props['cluster']}/{props['service']}", outs={**props, **outs})

    def diff(self, id_: str, olds: dict, news: dict) -> DiffResult:
        keys = [k for k in news if k not in ("deployment_id", "running_count", "connected_nodes")
                and olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(keys), replaces=[], delete_before_replace=False)

    def update(self, id_: str, olds: dict, news: dict) -> UpdateResult:
        return UpdateResult(outs={**news, **wait_for_rollout(_ecs_client(news), news, _konnect_nodes(news))})

    def delete(self, id_: str, props: dict) -> None:
        return None


class KonnectCheck(TypedDict):
    """Where the gate asks Konnect for the data planes: the API base URL, an access token (secret)
    and the control plane id."""

    api_url: str
    token: pulumi.Input[str]
    control_plane_id: pulumi.Input[str]


class EcsRolloutGate(Resource, module="ecs", name="RolloutGate"):
    """The rollout gate of one ECS service (type ``pulumi-python:dynamic/ecs:RolloutGate``).

    Inputs: ``region``, ``cluster`` and ``service`` (names), ``task_definition_arn`` (the revision
    the deployment must run), ``timeout_seconds`` / ``poll_seconds`` / ``ping_freshness_seconds``
    (:data:`ROLLOUT_GATE_DEFAULTS`), ``profile`` and ``assume_roles`` (:func:`aws_provider_access`),
    ``konnect`` (a
    :class:`KonnectCheck`, with a managed control plane). Outputs: ``deployment_id``,
    ``running_count``, ``connected_nodes``.
    """

    deployment_id: pulumi.Output[str]
    running_count: pulumi.Output[int]
    connected_nodes: pulumi.Output[int]

    def __init__(self, name: str, *, region: pulumi.Input[str], cluster: pulumi.Input[str],
                 service: pulumi.Input[str], task_definition_arn: pulumi.Input[str],
                 timeout_seconds: Optional[int] = None, poll_seconds: Optional[int] = None,
                 ping_freshness_seconds: Optional[int] = None, profile: Optional[str] = None,
                 assume_roles: Optional[list[dict[str, str]]] = None,
                 konnect: Optional[KonnectCheck] = None, opts: Optional[pulumi.ResourceOptions] = None):
        props: dict[str, Any] = {
            "region": region, "cluster": cluster, "service": service, "task_definition_arn": task_definition_arn,
            "timeout_seconds": timeout_seconds, "poll_seconds": poll_seconds,
            "ping_freshness_seconds": ping_freshness_seconds, "profile": profile, "assume_roles": assume_roles,
            "konnect": None if konnect is None else {**konnect, "token": pulumi.Output.secret(konnect["token"])},
            "deployment_id": None, "running_count": None, "connected_nodes": None,
        }
        super().__init__(RolloutGateProvider(), name, props, opts)
