"""Stack outputs: what an operator needs after ``pulumi up``, and nothing secret."""

from __future__ import annotations

import pulumi

from typing import Optional

from components.certificates import ClusterCertificate
from components.konnect_api import parse_endpoint
from components.konnect_api import KonnectControlPlane, PinnedDataPlaneCertificate
from components.konnect_ecs import KonnectDataPlanes

PIN_INSTRUCTIONS = (
    "Pin dataPlaneCertificatePem in your Konnect control plane before the data planes can connect: "
    "Gateway Manager > your control plane > Data Plane Nodes > New Data Plane Node > "
    "'Use your own certificate' (pinned mode), or "
    "POST https://<region>.api.konghq.com/v2/control-planes/<control plane id>/dp-client-certificates "
    "with the body {\"cert\": \"<the PEM>\"} and an access token "
    "(`pulumi stack output dataPlaneCertificatePem`). A provided certificate from the Konnect UI "
    "is already pinned."
)


def konnect_ecs_outputs(certificate: ClusterCertificate, data_planes: KonnectDataPlanes,
                        control_plane_endpoint: pulumi.Input[str], telemetry_endpoint: pulumi.Input[str],
                        control_plane: Optional[KonnectControlPlane] = None,
                        pin: Optional[PinnedDataPlaneCertificate] = None) -> dict[str, pulumi.Output]:
    """The outputs of a ``konnect-ecs`` stack, keyed by output name (camelCase):

    ``proxyUrl`` / ``proxyHttpsUrl`` (the load balancer), ``curlCheck`` (a command whose answer, a
    404 ``no Route matched with those values``, proves a data plane answers), ``ecsClusterName``,
    ``ecsServiceName``, ``logGroupName``, ``controlPlaneEndpoint`` / ``telemetryEndpoint`` (as the
    Kong settings use them, ``host:port``) and ``dataPlaneCertificatePem`` (public part). With a
    managed control plane also ``konnectControlPlaneId`` and ``konnectPinnedCertificateId``;
    without one, ``konnectPinInstructions`` says how to pin the certificate by hand.
    """
    dns = data_planes.load_balancer_dns_name
    outputs = {
        "proxyUrl": pulumi.Output.concat("http://", dns),
        "proxyHttpsUrl": pulumi.Output.concat("https://", dns),
        "curlCheck": pulumi.Output.concat(
            "curl -si http://", dns, "/ | head -n 1   # expect 404 (no Route matched with those values)"),
        "ecsClusterName": data_planes.cluster_name,
        "ecsServiceName": data_planes.service_name,
        "logGroupName": data_planes.log_group_name,
        "controlPlaneEndpoint": pulumi.Output.from_input(control_plane_endpoint).apply(
            lambda e: parse_endpoint(e).address),
        "telemetryEndpoint": pulumi.Output.from_input(telemetry_endpoint).apply(
            lambda e: parse_endpoint(e).address),
        "dataPlaneCertificatePem": certificate.cert_pem,
    }
    if control_plane is not None and pin is not None:
        outputs["konnectControlPlaneId"] = control_plane.control_plane_id
        outputs["konnectPinnedCertificateId"] = pin.certificate_id
    else:
        outputs["konnectPinInstructions"] = pulumi.Output.from_input(PIN_INSTRUCTIONS)
    return outputs


def hybrid_eks_outputs(config, cluster, kong) -> dict[str, pulumi.Output]:
    """The outputs of a ``hybrid-eks`` stack, keyed by output name (camelCase):

    ``proxyHostname`` / ``proxyUrl`` (the data planes' NLB), ``curlCheck`` (expects 404 ``no Route
    matched with those values``), ``adminPortForward`` (how to reach the Admin API, which is only
    inside the cluster), ``eksClusterName``, ``kubeconfig`` (a secret), ``namespace``,
    ``controlPlaneRelease`` / ``dataPlaneRelease`` and ``clusterCaCertificatePem``.
    """
    host = kong.proxy_hostname
    ns = config.hybrid.namespace
    return {
        "proxyHostname": host,
        "proxyUrl": pulumi.Output.concat("http://", host),
        "curlCheck": pulumi.Output.concat(
            "curl -si http://", host, "/ | head -n 1   # expect 404 (no Route matched with those values)"),
        "adminPortForward": pulumi.Output.from_input(
            f"pulumi stack output kubeconfig --show-secrets > kubeconfig.json && "
            f"kubectl --kubeconfig kubeconfig.json port-forward -n {ns} service/{kong.admin_service} 8444:8444"
            f"   # then: curl -sk https://localhost:8444/status"),
        "eksClusterName": cluster.cluster_name,
        "kubeconfig": pulumi.Output.secret(cluster.kubeconfig),
        "namespace": kong.namespace,
        "controlPlaneRelease": pulumi.Output.from_input(kong.control_plane_release),
        "dataPlaneRelease": pulumi.Output.from_input(kong.data_plane_release),
        "clusterCaCertificatePem": kong.cluster_ca_pem,
    }
