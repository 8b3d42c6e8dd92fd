"""Kong Konnect data planes on ECS Fargate, behind a Network Load Balancer: the konnect-ecs mode.

Replaces the hand-made setup of the seeds (a Konnect ``docker run`` copied into a task definition,
the certificate and key pasted into plain environment variables, ports 8000/8443 open to the world
on one task): the data plane certificate is generated (or given) and, with a managed control plane,
pinned in Konnect through its API; the certificate lives in Secrets Manager; the tasks run in
private subnets and accept traffic only from the load balancer; the service keeps full capacity
while it deploys, rolls back a failed deployment, and scales on CPU.

One component, :class:`KonnectEcsGateway`, builds the whole mode from its sub-components:
:class:`~components.network.Network`, :class:`~components.certificates.ClusterCertificate`, the
Konnect control plane and pin (:mod:`components.konnect_api`),
:class:`~components.ecs_task_definition.DataPlaneTaskDefinition`,
:class:`~components.proxy_load_balancer.ProxyLoadBalancer` and
:class:`~components.ecs_service.DataPlaneService`.
"""

import datetime
from collections.abc import Sequence
from typing import Optional, Required, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_tls as tls

from components.certificates import (CERTIFICATE_DEFAULTS, CLIENT_USAGES, CertificateSettings, CertificateSlot,
                                     ClusterCertificate, ClusterCertificateArgs, GeneratedCertificateSettings,
                                     certificate_fingerprint, certificate_validity)
from components.ecs_service import SERVICE_DEFAULTS, DataPlaneService, DataPlaneServiceArgs, ServiceSettings
from components.ecs_task_definition import DataPlaneTaskDefinition, DataPlaneTaskDefinitionArgs, TaskSettings
from components.gateway_check import curl_check
from components.gateway_config import GatewaySettings, load_settings, secret_env
from components.image_source import ImageSource
from components.kong_facts import PROXY_HTTP_PORT, PROXY_HTTPS_PORT, STATUS_PORT
from components.kong_settings import KongArgs
from components.konnect_api import (KONNECT_DEFAULTS, KonnectControlPlane, KonnectRegion, PinnedDataPlaneCertificate,
                                    api_url_for, parse_endpoint)
from components.konnect_entities import KonnectGatewayConfiguration, KonnectGatewayConfigurationArgs
from components.monitoring import EcsTarget, GatewayMonitoring, GatewayMonitoringArgs, MonitoringSettings
from components.network import NETWORK_DEFAULTS, Egress, Network, NetworkArgs, resolve_egress
from components.package import earlier_urn, type_token, with_defaults
from components.rollout_gate import (ROLLOUT_GATE_DEFAULTS, EcsRolloutGate, KonnectCheck, RolloutGateMode,
                                     RolloutSettings, aws_provider_access)
from components.proxy_load_balancer import (LOAD_BALANCER_DEFAULTS, LoadBalancerSettings, ProxyLoadBalancer,
                                            ProxyLoadBalancerArgs, source_blocks)

#: How to pin a certificate in Konnect by hand.
_HOW_TO_PIN = (
    "Gateway Manager > your control plane > Data Plane Nodes > New Data Plane Node > "
    "'Use your own certificate' (pinned mode), or "
    "POST https://<region>.api.konghq.com/v2/control-planes/<control plane id>/dp-client-certificates "
    "with the body {\"cert\": \"<the PEM>\"} and an access token")
#: What a stack without a managed control plane must do by hand: pin, confirm, and rotate with the
#: two certificate slots.
PIN_INSTRUCTIONS = (
    "Pin dataPlaneCertificatePem (`pulumi stack output dataPlaneCertificatePem`) in your Konnect control "
    f"plane before the data planes can connect: {_HOW_TO_PIN}. Then confirm it: "
    "`pulumi config set --path 'kong-aws:certificate.pinnedSha256[0]' <dataPlaneCertificateSha256>`; "
    "from then on `pulumi up` fails, before the task definition changes, rather than roll the data "
    "planes onto a certificate whose fingerprint is not listed there. To rotate, renew the slot the "
    "data planes do not use (dataPlaneCertificateActiveSlot is the one they use): raise "
    "kong-aws:certificate.slotGenerations.<a|b> and `pulumi up` (the tasks keep their certificate); "
    "pin that slot's new certificate (dataPlaneCertificateSlot<A|B>Pem) and add its "
    "dataPlaneCertificateSlot<A|B>Sha256 to pinnedSha256; set kong-aws:certificate.activeSlot to it and "
    "`pulumi up` (the tasks roll onto it); once every task runs the new revision, unpin the old "
    "certificate in Konnect. A provided certificate from the Konnect UI (kong-aws:clusterCert) is "
    "already pinned."
)
#: A slot's certificate made this long after the stack's certificate slots began is one pulumi-tls
#: made since (their first certificates are made in the same update, seconds apart).
SLOTS_SINCE_MARGIN = datetime.timedelta(hours=1)


class KonnectArgs(TypedDict, total=False):
    """The Konnect control plane the data planes join, in one of two ways.

    Managed (``control_plane_name`` with ``token``): the stack adopts the control plane of that name
    or creates it, and pins the data plane certificate through the Konnect API. Manual
    (``control_plane_endpoint`` and ``telemetry_endpoint`` as Konnect shows them): the certificate
    is pinned by hand (:data:`PIN_INSTRUCTIONS`). Defaults:
    :data:`components.konnect_api.KONNECT_DEFAULTS`.
    """

    control_plane_endpoint: pulumi.Input[str]
    """manual: the control plane endpoint (host, ``host:port`` or ``https://`` URL)"""
    telemetry_endpoint: pulumi.Input[str]
    """manual: the telemetry endpoint (same forms)"""
    control_plane_name: str
    """managed: the name of the control plane to adopt or create (2-256 characters)"""
    control_plane_labels: dict[str, str]
    """managed: labels of a control plane the stack creates (default none)"""
    region: KonnectRegion
    """managed: the Konnect region (default ``us``)"""
    api_url: str
    """managed: another Konnect API base URL instead of the region's (a proxy)"""
    delete_control_plane_on_destroy: bool
    """managed: deleting the stack deletes a control plane it created (default false: it stays in Konnect); an adopted one is never deleted"""
    token: pulumi.Input[str]
    """managed: a Konnect personal (``kpat_``) or system account (``spat_``) access token (kept secret)"""


class EcsSettings(TaskSettings, ServiceSettings, RolloutSettings, total=False):
    """The Fargate tasks, their service and its rollout gate: :class:`TaskSettings`,
    :class:`ServiceSettings` and :class:`RolloutSettings`."""


class KonnectEcsGatewayArgs(TypedDict, total=False):
    """Arguments of :class:`KonnectEcsGateway`."""

    kong: Required[KongArgs]
    """the Kong Gateway the data planes run"""
    konnect: Required[KonnectArgs]
    """the Konnect control plane they join"""
    region: Required[str]
    """the AWS region (``aws:region``)"""
    network: NetworkArgs
    """a new VPC (default) or an existing one"""
    certificate: CertificateSettings
    """how the data plane certificate is generated"""
    cluster_cert_pem: pulumi.Input[str]
    """use this certificate (PEM) instead of generating one, e.g. from the Konnect UI; with ``cluster_cert_key_pem``"""
    cluster_cert_key_pem: pulumi.Input[str]
    """its private key (PEM; kept secret)"""
    ecs: EcsSettings
    """the Fargate tasks and service"""
    load_balancer: LoadBalancerSettings
    """the proxy load balancer"""
    gateway: GatewaySettings
    """the gateway file (services, routes, plugins ...): applied through Konnect's configuration API
    with a managed control plane, else only validated (apply it with decK); with Kong's global
    ``prometheus`` plugin in it, each task also runs the CloudWatch agent that sends Kong's
    metrics to CloudWatch (default none)"""
    monitoring: MonitoringSettings
    """the CloudWatch dashboard's alarms and where they notify (:class:`GatewayMonitoring`)"""


_TASK_KEYS = tuple(TaskSettings.__optional_keys__)
_SLOT_KEYS = ("active_slot", "slot_generations", "pinned_sha256")
_SERVICE_KEYS = tuple(ServiceSettings.__optional_keys__)

# The layout of kong-aws before the gateway component (each resource then sat at the stack's root or
# under KonnectDataPlanes "data-plane"); aliases keep `pulumi up` from replacing what it made then.
_BEFORE = "kong-aws:konnect_ecs:KonnectDataPlanes"


def _pick(settings: dict, keys: tuple[str, ...]) -> dict:
    return {key: settings[key] for key in keys if settings.get(key) is not None}


def _slots_since(name: str, opts: pulumi.ResourceOptions) -> tls.SelfSignedCert:
    """``{name}-cert-slots-since``: a certificate made once, when the stack's certificate slots
    began, and never again (fixed inputs, no early renewal, valid 100 years); its not-before is
    that moment. (pulumi-time's ``Static`` would say the same; it is not a dependency.)"""
    key = tls.PrivateKey(f"{name}-cert-slots-since-key", algorithm="ECDSA", ecdsa_curve="P256", opts=opts)
    return tls.SelfSignedCert(
        f"{name}-cert-slots-since", private_key_pem=key.private_key_pem,
        subject=tls.SelfSignedCertSubjectArgs(common_name="kong-aws certificate slots since"),
        allowed_uses=["digital_signature"], validity_period_hours=100 * 365 * 24, early_renewal_hours=0, opts=opts)


def _utc(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_presented_certificate(pem: str, slot: Optional[str], pinned: Sequence[str],
                                slots_since: Optional[datetime.datetime]) -> None:
    """With manual pinning, refuse to let the data planes present ``pem`` unless it is pinned.

    ``slot``: the certificate slot ``pem`` comes from (``a`` or ``b``), None for a certificate
    given as ``kong-aws:clusterCert``; ``pinned``: ``kong-aws:certificate.pinnedSha256`` (hex
    SHA-256 fingerprints, :func:`components.certificates.certificate_fingerprint`);
    ``slots_since``: when the stack's certificate slots began (``{name}-cert-slots-since``), None
    in a preview (which then leaves the rule that needs it to ``pulumi up``).

    With fingerprints listed, ``pem``'s must be one of them. Without (the state of a stack made
    before the slots, or new), ``pem`` may only be a given certificate (Konnect's UI pins what it
    makes) or slot ``a``'s certificate as the slots found or first made it (not after
    ``slots_since`` + :data:`SLOTS_SINCE_MARGIN`): never slot ``b``'s, nor a certificate pulumi-tls
    made since (an early renewal inside ``earlyRenewalDays`` of expiry, a changed
    ``kong-aws:certificate`` setting or a new ``slotGenerations.a``), as nobody can have pinned it.

    Raises :class:`pulumi.RunError` naming the key, the fingerprint to pin, how, and the PEM.
    """
    fingerprint = certificate_fingerprint(pem)
    not_before, not_after = certificate_validity(pem)
    if pinned:
        if fingerprint in pinned:
            return
        listed = f"kong-aws:certificate.pinnedSha256 lists {', '.join(pinned)}"
    else:
        if slot is None or (slot == CertificateSlot.A.value and
                            (slots_since is None or not_before <= slots_since + SLOTS_SINCE_MARGIN)):
            return
        listed = "kong-aws:certificate.pinnedSha256 lists none"
    if slot is None:
        what, why = "the certificate kong-aws:clusterCert gives", ""
    else:
        what = f"slot {slot}'s certificate (kong-aws:certificate.activeSlot {slot}), made {_utc(not_before)}"
        if not pinned and slot == CertificateSlot.A.value:
            what += f", after the certificate slots began ({_utc(slots_since or not_before)}): a new one"
        why = ("pulumi-tls makes a slot's certificate anew inside certificate.earlyRenewalDays of its expiry, after "
               "a change of kong-aws:certificate, and for a new certificate.slotGenerations number. ")
    raise pulumi.RunError(
        f"kong-aws:certificate.pinnedSha256: the data planes would present {what}, SHA-256 {fingerprint} "
        f"(valid until {_utc(not_after)}), which is not confirmed as pinned ({listed}). `pulumi up` stopped "
        "before the certificate secret and the task definition change: the running tasks keep presenting "
        f"the certificate they have. {why}Pin this one in Konnect ({_HOW_TO_PIN}), keeping the old pin until "
        "the tasks have rolled; then confirm it and run `pulumi up` again:\n"
        f"  pulumi config set --path 'kong-aws:certificate.pinnedSha256[{len(pinned)}]' {fingerprint}\n"
        f"The certificate to pin:\n{pem}")


class KonnectEcsGateway(pulumi.ComponentResource):
    """Kong Gateway data planes of a Kong Konnect control plane, on ECS Fargate (type
    ``kong-aws:index:KonnectEcsGateway``): the whole konnect-ecs mode.

    Children: ``{name}-network`` (:class:`Network`), ``{name}-data-plane-cert`` (the data plane's
    cluster certificate, client usages, or the one given), with a managed control plane
    ``{name}-konnect-control-plane`` and ``{name}-konnect-pinned-cert`` (the pin), else
    ``{name}-cert-slots-since`` (:func:`check_presented_certificate`) and, for a generated
    certificate, ``{name}-data-plane-cert-b`` (certificate slot b; slot a is
    ``{name}-data-plane-cert``, ``certificate.active_slot`` says which the tasks present), then
    ``{name}-data-plane`` (:class:`DataPlaneTaskDefinition`: its certificate secret waits for the
    pin), ``{name}-tasks`` (the tasks' security group: outbound anywhere, inbound only from the load
    balancer on 8000, 8443 and 8100), ``{name}-proxy`` (:class:`ProxyLoadBalancer`) and
    ``{name}-service`` (:class:`DataPlaneService`, in the private subnets; with ``network.egress``
    ``public-ip`` in the public subnets, with public IPs) and ``{name}-monitoring``
    (:class:`GatewayMonitoring`: the dashboard and alarms). With a ``gateway`` file and a managed
    control plane, ``{name}-gateway`` (:class:`KonnectGatewayConfiguration`: its entities in Konnect).

    Outputs (stack outputs of the mode, see :meth:`stack_outputs`): ``proxy_url``,
    ``proxy_https_url``, ``curl_check``, ``dashboard_url``, ``ecs_cluster_name``, ``ecs_service_name``,
    ``log_group_name``, ``control_plane_endpoint`` / ``telemetry_endpoint`` (``host:port``, as the
    Kong settings use them), ``data_plane_certificate_pem`` (public, the one the tasks present); with
    a managed control plane ``konnect_control_plane_id`` and ``konnect_pinned_certificate_id``, else
    ``konnect_pin_instructions``, ``data_plane_certificate_sha256`` and, for generated certificates,
    ``data_plane_certificate_active_slot`` and each slot's ``..._slot_<a|b>_pem``, ``_sha256`` and
    ``_expiry``.

    Raises ``ValueError`` when ``konnect`` has neither a ``control_plane_name`` with a ``token`` nor
    both endpoints, or when ``certificate`` has slot settings where nobody pins by hand (a managed
    control plane; ``active_slot`` / ``slot_generations`` with ``cluster_cert_pem``). With manual
    pinning, ``pulumi up`` fails (:class:`pulumi.RunError`) before the certificate secret and task
    definition change when the tasks would present a certificate not confirmed as pinned. A
    ``gateway`` file that does not load or validate raises
    :class:`components.gateway_config.GatewayFileError` (a ``ValueError``) before anything is declared.
    """

    proxy_url: pulumi.Output[str]
    """http:// URL of the proxy load balancer"""
    proxy_https_url: pulumi.Output[str]
    """https:// URL of the proxy load balancer"""
    curl_check: pulumi.Output[str]
    """a command that proves traffic flows: the upstream's answer through a route of the gateway file
    (and a rate limit's 429), or without one Kong's 404 (:func:`components.gateway_check.curl_check`)"""
    dashboard_url: pulumi.Output[str]
    """the stack's CloudWatch dashboard (:class:`components.monitoring.GatewayMonitoring`)"""
    ecs_cluster_name: pulumi.Output[str]
    """the ECS cluster"""
    ecs_service_name: pulumi.Output[str]
    """the ECS service"""
    log_group_name: pulumi.Output[str]
    """the data planes' log group"""
    control_plane_endpoint: pulumi.Output[str]
    """cluster_control_plane, host:port"""
    telemetry_endpoint: pulumi.Output[str]
    """cluster_telemetry_endpoint, host:port"""
    data_plane_certificate_pem: pulumi.Output[str]
    """the data plane certificate the tasks present, PEM (public; pin it when the stack does not)"""
    data_plane_certificate_sha256: Optional[pulumi.Output[str]]
    """manual control plane: its SHA-256 fingerprint (hex of the DER), for ``certificate.pinned_sha256``"""
    data_plane_certificate_active_slot: Optional[pulumi.Output[str]]
    """manual control plane, generated certificates: the slot (``a`` or ``b``) whose certificate the tasks present"""
    data_plane_certificate_slot_a_pem: Optional[pulumi.Output[str]]
    """manual control plane, generated certificates: slot a's certificate, PEM"""
    data_plane_certificate_slot_a_sha256: Optional[pulumi.Output[str]]
    """manual control plane, generated certificates: slot a's SHA-256 fingerprint"""
    data_plane_certificate_slot_a_expiry: Optional[pulumi.Output[str]]
    """manual control plane, generated certificates: when slot a's certificate expires (UTC, ISO 8601)"""
    data_plane_certificate_slot_b_pem: Optional[pulumi.Output[str]]
    """manual control plane, generated certificates: slot b's certificate, PEM"""
    data_plane_certificate_slot_b_sha256: Optional[pulumi.Output[str]]
    """manual control plane, generated certificates: slot b's SHA-256 fingerprint"""
    data_plane_certificate_slot_b_expiry: Optional[pulumi.Output[str]]
    """manual control plane, generated certificates: when slot b's certificate expires (UTC, ISO 8601)"""
    konnect_control_plane_id: Optional[pulumi.Output[str]]
    """managed control plane: its id"""
    konnect_pinned_certificate_id: Optional[pulumi.Output[str]]
    """managed control plane: the pin's id"""
    konnect_pin_instructions: Optional[pulumi.Output[str]]
    """manual control plane: how to pin the certificate"""
    image_pull_warning: Optional[pulumi.Output[str]]
    """Kong's image comes from Docker Hub anonymously: its pull limit (:class:`ImageSource`)"""

    def __init__(self, name: str, args: KonnectEcsGatewayArgs, opts: Optional[pulumi.ResourceOptions] = None):
        konnect = with_defaults(args["konnect"], KONNECT_DEFAULTS)
        managed = konnect.get("control_plane_name") is not None
        if managed and konnect.get("token") is None:
            raise ValueError("a managed Konnect control plane (control_plane_name) needs a token")
        if not managed and (konnect.get("control_plane_endpoint") is None or konnect.get("telemetry_endpoint") is None):
            raise ValueError("give konnect.control_plane_name and token, or both Konnect endpoints")
        slot_args = _pick(dict(args.get("certificate") or {}), _SLOT_KEYS)
        if (managed or args.get("cluster_cert_pem") is not None) and \
                _pick(slot_args, ("active_slot", "slot_generations")):
            raise ValueError("certificate.active_slot and slot_generations are for generated certificates pinned by "
                             "hand: not with konnect.control_plane_name or cluster_cert_pem")
        if managed and slot_args.get("pinned_sha256"):
            raise ValueError("certificate.pinned_sha256 is for certificates pinned by hand; with "
                             "konnect.control_plane_name the stack pins through the Konnect API")
        # The gate signs as the default AWS provider does; read (and refused) before anything is declared.
        gate_access = aws_provider_access()
        gateway_file = load_settings(args.get("gateway"))
        kong_metrics = gateway_file is not None and gateway_file.prometheus_enabled
        super().__init__(type_token(KonnectEcsGateway), name, None, opts)
        # Where the tasks pull Kong's image: the pull through cache rule, if any, exists before the task definition.
        images = ImageSource(f"{name}-images", {"kong": args["kong"], "region": args["region"]},
                             opts=pulumi.ResourceOptions(parent=self))
        ecs: dict = dict(args.get("ecs") or {})
        lb_settings: dict = dict(args.get("load_balancer") or {})

        def child(*before: str) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, aliases=list(before))

        network = Network(f"{name}-network", Network.args_for_service(args.get("network"), "ecs-fargate"),
                          opts=child(earlier_urn("kong-aws:network:Network", "network")))
        # public-ip egress: the tasks sit in the public subnets with public IPs and reach Konnect, the
        # registry and AWS APIs through the internet gateway; the security group below still admits
        # only the load balancer.
        public_tasks = resolve_egress(args.get("network")) is Egress.PUBLIC_IP

        # Manual pinning of generated certificates: two slots, "a" (the certificate made before the
        # slots, same name and inputs) and "b", so that one can be renewed and pinned while the tasks
        # present the other; each slot's generation is its key's and certificate's replacementTrigger.
        made = _pick(dict(args.get("certificate") or {}), tuple(GeneratedCertificateSettings.__optional_keys__))
        slots = with_defaults(slot_args, CERTIFICATE_DEFAULTS)
        provided = args.get("cluster_cert_pem") is not None
        slotted = not managed and not provided
        generations = {**CERTIFICATE_DEFAULTS["slot_generations"],
                       **{CertificateSlot(k).value: int(v) for k, v in slots["slot_generations"].items()}}
        active = CertificateSlot(slots["active_slot"]).value
        pinned = [str(f).replace(":", "").lower() for f in slots["pinned_sha256"]]
        cert_args = ClusterCertificateArgs(**made, usages=list(CLIENT_USAGES))
        if provided:
            cert_args["provided_cert_pem"] = args["cluster_cert_pem"]
            cert_args["provided_key_pem"] = pulumi.Output.secret(args["cluster_cert_key_pem"])
        elif slotted:
            cert_args["generation"] = generations["a"]
        certificate = ClusterCertificate(
            f"{name}-data-plane-cert", cert_args,
            opts=child(earlier_urn("kong-aws:certificates:ClusterCertificate", "data-plane-cert")))
        slot_b = ClusterCertificate(f"{name}-data-plane-cert-b", ClusterCertificateArgs(
            **made, usages=list(CLIENT_USAGES), generation=generations["b"]),
            opts=child()) if slotted else None
        presented = slot_b if slot_b is not None and active == CertificateSlot.B.value else certificate
        task_cert_pem: pulumi.Output[str] = presented.cert_pem
        task_key_pem: pulumi.Output[str] = presented.private_key_pem
        slots_since = None if managed else _slots_since(name, child())
        if slots_since is not None:
            # Nobody but the user can pin here: the tasks get a certificate only once it is confirmed
            # (check_presented_certificate); otherwise the secret and task definition are never
            # registered and the update fails before they change. The slots' start is read only by
            # the rule for an empty list, and not in a preview, where it is unknown in the update
            # that makes it (it would make the certificate, and so the task definition, look changed).
            since: pulumi.Input[Optional[str]] = None
            if not pinned and not pulumi.runtime.is_dry_run():
                since = slots_since.cert_pem

            def confirmed(values: list) -> str:
                pem, since_pem = values
                check_presented_certificate(pem, active if slotted else None, pinned,
                                            certificate_validity(since_pem)[0] if since_pem else None)
                return pem

            task_cert_pem = pulumi.Output.all(presented.cert_pem, since).apply(confirmed)
            task_key_pem = pulumi.Output.all(presented.private_key_pem, task_cert_pem).apply(lambda v: v[0])

        control_plane: Optional[KonnectControlPlane] = None
        pin: Optional[PinnedDataPlaneCertificate] = None
        if managed:
            api_url = konnect.get("api_url") or api_url_for(KonnectRegion(konnect["region"]).value)
            token = pulumi.Output.secret(konnect["token"])
            control_plane = KonnectControlPlane(
                f"{name}-konnect-control-plane", api_url=api_url, token=token,
                control_plane_name=konnect["control_plane_name"], labels=konnect["control_plane_labels"],
                delete_on_destroy=bool(konnect["delete_control_plane_on_destroy"]),
                opts=child(earlier_urn("pulumi-python:dynamic/konnect:ControlPlane", "konnect-control-plane")))
            pin = PinnedDataPlaneCertificate(
                f"{name}-konnect-pinned-cert", api_url=api_url, token=token,
                control_plane_id=control_plane.control_plane_id, cert=certificate.cert_pem,
                opts=child(earlier_urn("pulumi-python:dynamic/konnect:PinnedDataPlaneCertificate",
                                       "konnect-pinned-cert")))
            if gateway_file is not None:
                # The file's entities through the configuration API: one resource per entity.
                KonnectGatewayConfiguration(f"{name}-gateway", KonnectGatewayConfigurationArgs(
                    api_url=api_url, token=token, control_plane_id=control_plane.control_plane_id,
                    entities=gateway_file.entities, env=secret_env(args.get("gateway"))), opts=child())
            control_plane_endpoint: pulumi.Input[str] = control_plane.control_plane_endpoint
            telemetry_endpoint: pulumi.Input[str] = control_plane.telemetry_endpoint
        else:
            control_plane_endpoint = konnect["control_plane_endpoint"]
            telemetry_endpoint = konnect["telemetry_endpoint"]

        task_args = DataPlaneTaskDefinitionArgs(
            kong=args["kong"], control_plane_endpoint=control_plane_endpoint,
            telemetry_endpoint=telemetry_endpoint, cert_pem=task_cert_pem,
            private_key_pem=task_key_pem, region=args["region"],
            family=f"{pulumi.get_project()}-{pulumi.get_stack()}-data-plane",
            log_group_name=f"/kong-aws/{pulumi.get_stack()}/data-plane", **_pick(ecs, _TASK_KEYS))
        # Kong requires the PROXY protocol header exactly when the NLB's target groups send it.
        if with_defaults(lb_settings, LOAD_BALANCER_DEFAULTS)["proxy_protocol"]:
            network_settings = with_defaults(args.get("network") or {}, NETWORK_DEFAULTS)
            task_args["proxy_protocol"] = True
            task_args["trusted_ips"] = source_blocks(
                None if network_settings.get("vpc_id") else network_settings["cidr_block"])
        if pin is not None:
            task_args["pinned_certificate_id"] = pin.certificate_id
        if kong_metrics:
            task_args["kong_metrics"] = True
        task_args["image_source_ready"] = images.ready
        task_definition = DataPlaneTaskDefinition(
            f"{name}-data-plane", task_args, opts=child(earlier_urn(_BEFORE, "data-plane")))

        # Inbound only from the NLB (rules below), outbound open: Konnect and registries on 443, and
        # the upstream services Kong proxies to on any port.
        task_sg = aws.ec2.SecurityGroup(
            f"{name}-tasks", vpc_id=network.vpc_id,
            description="Kong data plane tasks: inbound only from the proxy load balancer",
            tags={"Name": f"{name}-tasks"},
            opts=child(earlier_urn(f"{_BEFORE}$aws:ec2/securityGroup:SecurityGroup", "data-plane-tasks")))
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-tasks-out", security_group_id=task_sg.id, ip_protocol="-1",
            cidr_ipv4="0.0.0.0/0", description="Konnect, image registry, AWS APIs, upstream services",
            opts=child(earlier_urn(f"{_BEFORE}$aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
                                   "data-plane-tasks-out")))

        internal = bool(with_defaults(lb_settings, LOAD_BALANCER_DEFAULTS)["internal"])
        load_balancer = ProxyLoadBalancer(f"{name}-proxy", ProxyLoadBalancerArgs(
            **lb_settings,
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids if internal else network.public_subnet_ids,
            target_security_group_id=task_sg.id),
            opts=child(earlier_urn(f"{_BEFORE}$kong-aws:load_balancer:ProxyLoadBalancer", "data-plane-proxy")))
        for port in (PROXY_HTTP_PORT, PROXY_HTTPS_PORT, STATUS_PORT):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-tasks-in-{port}", security_group_id=task_sg.id, ip_protocol="tcp",
                from_port=port, to_port=port, referenced_security_group_id=load_balancer.security_group_id,
                description=f"from the proxy load balancer on {port}",
                opts=child(earlier_urn(f"{_BEFORE}$aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                                       f"data-plane-tasks-in-{port}")))

        # The service's children sat directly under KonnectDataPlanes before; each keeps its URN.
        before = {f"{name}-service-{role}": earlier_urn(f"{_BEFORE}${typ}", f"data-plane-{role}") for role, typ in (
            ("cluster", "aws:ecs/cluster:Cluster"),
            ("capacity", "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders"),
            ("service", "aws:ecs/service:Service"), ("scaling", "aws:appautoscaling/target:Target"),
            ("cpu", "aws:appautoscaling/policy:Policy"))}

        def keep_earlier_urn(resource_args: pulumi.ResourceTransformationArgs):
            urn = before.get(resource_args.name)
            if urn is None:
                return None
            return pulumi.ResourceTransformationResult(
                resource_args.props, pulumi.ResourceOptions.merge(resource_args.opts, pulumi.ResourceOptions(aliases=[urn])))

        service = DataPlaneService(f"{name}-service", DataPlaneServiceArgs(
            task_definition_arn=task_definition.task_definition_arn,
            subnet_ids=network.public_subnet_ids if public_tasks else network.private_subnet_ids,
            assign_public_ip=public_tasks, security_group_ids=pulumi.Output.all(task_sg.id),
            http_target_group_arn=load_balancer.http_target_group_arn,
            https_target_group_arn=load_balancer.https_target_group_arn, **_pick(ecs, _SERVICE_KEYS)),
            opts=pulumi.ResourceOptions(parent=self, transformations=[keep_earlier_urn]))

        # `pulumi up` succeeds only when the new revision runs and, with a managed control plane,
        # its data planes reached Konnect; a failed gate fails the update before Pulumi deletes
        # what it replaced (the old pin, secret version and task definition).
        rollout = with_defaults(ecs, ROLLOUT_GATE_DEFAULTS)
        mode = RolloutGateMode(rollout["rollout_gate"])
        if mode is not RolloutGateMode.OFF:
            check_konnect = mode is RolloutGateMode.FULL and control_plane is not None
            EcsRolloutGate(
                f"{name}-rollout", region=args["region"], cluster=service.cluster_name,
                service=service.service_name, task_definition_arn=task_definition.task_definition_arn,
                timeout_seconds=int(rollout["rollout_timeout_seconds"]), **gate_access,
                konnect=KonnectCheck(api_url=api_url, token=token, control_plane_id=control_plane.control_plane_id)
                if check_konnect and control_plane is not None else None,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[service]))

        dns = load_balancer.dns_name
        self.proxy_url = pulumi.Output.concat("http://", dns)
        self.proxy_https_url = pulumi.Output.concat("https://", dns)
        service_settings = with_defaults(_pick(ecs, _SERVICE_KEYS), SERVICE_DEFAULTS)
        document = gateway_file.document if gateway_file is not None else None
        self.curl_check = dns.apply(lambda host: curl_check(host, document, int(service_settings["max_count"])))
        monitoring = GatewayMonitoring(f"{name}-monitoring", GatewayMonitoringArgs(
            **(args.get("monitoring") or {}), region=args["region"],
            load_balancer_arn_suffix=load_balancer.arn_suffix,
            target_group_arn_suffixes=load_balancer.target_group_arn_suffixes,
            ecs=EcsTarget(cluster_name=service.cluster_name, service_name=service.service_name,
                          min_count=int(service_settings["min_count"]),
                          container_insights=bool(service_settings["container_insights"])),
            kong_metrics=kong_metrics), opts=pulumi.ResourceOptions(parent=self))
        self.dashboard_url = monitoring.dashboard_url
        self.ecs_cluster_name = service.cluster_name
        self.ecs_service_name = service.service_name
        self.log_group_name = task_definition.log_group_name
        self.control_plane_endpoint = pulumi.Output.from_input(control_plane_endpoint).apply(
            lambda e: parse_endpoint(e).address)
        self.telemetry_endpoint = pulumi.Output.from_input(telemetry_endpoint).apply(
            lambda e: parse_endpoint(e).address)
        self.data_plane_certificate_pem = presented.cert_pem
        self.data_plane_certificate_sha256 = None if managed else presented.cert_pem.apply(certificate_fingerprint)
        self.data_plane_certificate_active_slot = pulumi.Output.from_input(active) if slotted else None
        slot_a_pem = certificate.cert_pem if slotted else None
        slot_b_pem = slot_b.cert_pem if slot_b is not None else None

        def sha256(pem: Optional[pulumi.Output[str]]) -> Optional[pulumi.Output[str]]:
            return pem.apply(certificate_fingerprint) if pem is not None else None

        def expiry(pem: Optional[pulumi.Output[str]]) -> Optional[pulumi.Output[str]]:
            return pem.apply(lambda text: _utc(certificate_validity(text)[1])) if pem is not None else None

        self.data_plane_certificate_slot_a_pem = slot_a_pem
        self.data_plane_certificate_slot_a_sha256 = sha256(slot_a_pem)
        self.data_plane_certificate_slot_a_expiry = expiry(slot_a_pem)
        self.data_plane_certificate_slot_b_pem = slot_b_pem
        self.data_plane_certificate_slot_b_sha256 = sha256(slot_b_pem)
        self.data_plane_certificate_slot_b_expiry = expiry(slot_b_pem)
        self.konnect_control_plane_id = control_plane.control_plane_id if control_plane else None
        self.konnect_pinned_certificate_id = pin.certificate_id if pin else None
        self.konnect_pin_instructions = None if managed else pulumi.Output.from_input(PIN_INSTRUCTIONS)
        self.image_pull_warning = images.image_pull_warning
        self.register_outputs(self.stack_outputs())

    def stack_outputs(self) -> dict[str, pulumi.Output]:
        """The outputs an operator needs after ``pulumi up``, by stack output name (camelCase);
        none of them is secret."""
        outputs = {
            "proxyUrl": self.proxy_url,
            "proxyHttpsUrl": self.proxy_https_url,
            "curlCheck": self.curl_check,
            "dashboardUrl": self.dashboard_url,
            "ecsClusterName": self.ecs_cluster_name,
            "ecsServiceName": self.ecs_service_name,
            "logGroupName": self.log_group_name,
            "controlPlaneEndpoint": self.control_plane_endpoint,
            "telemetryEndpoint": self.telemetry_endpoint,
            "dataPlaneCertificatePem": self.data_plane_certificate_pem,
            "dataPlaneCertificateSha256": self.data_plane_certificate_sha256,
            "dataPlaneCertificateActiveSlot": self.data_plane_certificate_active_slot,
            "dataPlaneCertificateSlotAPem": self.data_plane_certificate_slot_a_pem,
            "dataPlaneCertificateSlotASha256": self.data_plane_certificate_slot_a_sha256,
            "dataPlaneCertificateSlotAExpiry": self.data_plane_certificate_slot_a_expiry,
            "dataPlaneCertificateSlotBPem": self.data_plane_certificate_slot_b_pem,
            "dataPlaneCertificateSlotBSha256": self.data_plane_certificate_slot_b_sha256,
            "dataPlaneCertificateSlotBExpiry": self.data_plane_certificate_slot_b_expiry,
            "konnectControlPlaneId": self.konnect_control_plane_id,
            "konnectPinnedCertificateId": self.konnect_pinned_certificate_id,
            "konnectPinInstructions": self.konnect_pin_instructions,
            "imagePullWarning": self.image_pull_warning,
        }
        return {key: value for key, value in outputs.items() if value is not None}
