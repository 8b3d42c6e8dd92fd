"""Cluster certificates for Kong hybrid mode and Konnect, made with pulumi-tls.

One component, :class:`ClusterCertificate`, makes every certificate the project needs:

- a data plane client certificate that Konnect pins (self-signed; ``pinned_client_certs``),
- a certificate authority (``is_ca=True``) and certificates it signs (``ca=...``), for the
  ``cluster_mtls pki`` of a self-hosted control plane and its data planes,
- or, instead of generating, a certificate and key the user already has (``provided_cert_pem`` and
  ``provided_key_pem``, e.g. from the Konnect UI's "Generate certificate").

The private key is a Pulumi secret wherever it goes. ``early_renewal_hours`` makes ``pulumi up``
replace a generated certificate that is inside that window before its expiry.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from typing import Literal, Optional, Sequence

import pulumi
import pulumi_tls as tls

from components.kong_facts import DEFAULT_CLUSTER_CN

class KeyAlgorithm(str, enum.Enum):
    """The key of a generated certificate: ECDSA on P-384, or RSA of 2048 or 4096 bits."""

    ECDSA_P384 = "ecdsa-p384"
    RSA_2048 = "rsa-2048"
    RSA_4096 = "rsa-4096"


#: Defaults of :class:`ClusterCertificateArgs`, the only place they are written: the CN of Kong's
#: hybrid examples, 1095 days (3 years, Kong's hybrid guide), renewal 30 days before expiry.
CERTIFICATE_DEFAULTS = {"common_name": DEFAULT_CLUSTER_CN, "key_algorithm": KeyAlgorithm.ECDSA_P384,
                        "validity_days": 1095, "early_renewal_days": 30}



#: X.509 usages (pulumi-tls ``allowed_uses`` names) for each kind of certificate.
CLIENT_USAGES = ("digital_signature", "client_auth")
SERVER_USAGES = ("digital_signature", "server_auth")
CA_USAGES = ("cert_signing", "crl_signing", "digital_signature")


def key_args(algorithm: KeyAlgorithm) -> dict:
    """pulumi-tls ``PrivateKey`` arguments for ``algorithm``.

    ``ecdsa-p384`` -> ``{"algorithm": "ECDSA", "ecdsa_curve": "P384"}``; ``rsa-2048`` / ``rsa-4096``
    -> ``{"algorithm": "RSA", "rsa_bits": 2048 / 4096}``. Raises ``ValueError`` for anything else.
    """
    if algorithm == "ecdsa-p384":
        return {"algorithm": "ECDSA", "ecdsa_curve": "P384"}
    if algorithm in ("rsa-2048", "rsa-4096"):
        return {"algorithm": "RSA", "rsa_bits": int(algorithm.split("-")[1])}
    raise ValueError(f"unknown key algorithm {algorithm!r}")


@dataclass
class ClusterCertificateArgs:
    """Arguments of :class:`ClusterCertificate`.

    - ``common_name``: subject CN (Kong's examples use ``kong_clustering``); ``organization`` O.
    - ``usages``: pulumi-tls ``allowed_uses`` (default :data:`CLIENT_USAGES`, or :data:`CA_USAGES`
      with ``is_ca``); RSA keys also get ``key_encipherment``.
    - ``dns_names``: subject alternative names (a control plane's service names).
    - ``key_algorithm``: see :func:`key_args` (default ``ecdsa-p384``).
    - ``validity_hours`` (default 26280 = 1095 days) and ``early_renewal_hours`` (default 720).
    - ``is_ca``: make a certificate authority. ``ca``: the authority that signs this certificate
      (default: self-signed).
    - ``provided_cert_pem`` / ``provided_key_pem``: use these instead of generating (both or none).
    """

    common_name: str = "kong_clustering"
    usages: Optional[Sequence[str]] = None
    organization: Optional[str] = None
    dns_names: Sequence[str] = field(default_factory=tuple)
    key_algorithm: KeyAlgorithm = "ecdsa-p384"
    validity_hours: int = 1095 * 24
    early_renewal_hours: int = 30 * 24
    is_ca: bool = False
    ca: Optional["ClusterCertificate"] = None
    provided_cert_pem: Optional[pulumi.Input[str]] = None
    provided_key_pem: Optional[pulumi.Input[str]] = None


class ClusterCertificate(pulumi.ComponentResource):
    """A certificate and its private key (type ``kong-aws:certificates:ClusterCertificate``).

    Outputs: ``cert_pem`` (PEM certificate, public), ``private_key_pem`` (PEM key, secret), and
    ``cert_sha256`` (hex SHA-256 of the PEM text, a cheap change marker for rolling workloads).
    Children: ``{name}-key`` (``tls:PrivateKey``) and ``{name}-cert`` (``tls:SelfSignedCert``, or
    ``{name}-csr`` and a ``tls:LocallySignedCert`` when ``ca`` is given); none when provided.

    Raises ``ValueError`` when only one of the provided PEMs is given, when a provided certificate
    is combined with ``ca`` or ``is_ca``, or when ``ca`` is not a certificate authority.
    """

    cert_pem: pulumi.Output[str]
    private_key_pem: pulumi.Output[str]
    cert_sha256: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterCertificateArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        provided = (args.provided_cert_pem is not None, args.provided_key_pem is not None)
        if provided[0] != provided[1]:
            raise ValueError("give both provided_cert_pem and provided_key_pem, or neither")
        if provided[0] and (args.ca is not None or args.is_ca):
            raise ValueError("a provided certificate cannot also be generated as or by a CA")
        if args.ca is not None and not args.ca.is_ca:
            raise ValueError("ca must be a ClusterCertificate made with is_ca=True")
        if args.early_renewal_hours >= args.validity_hours:
            raise ValueError("early_renewal_hours must be less than validity_hours")
        super().__init__("kong-aws:certificates:ClusterCertificate", name, None, opts)
        self.is_ca = args.is_ca
        child = pulumi.ResourceOptions(parent=self)

        if provided[0]:
            cert_pem = pulumi.Output.from_input(args.provided_cert_pem)
            key_pem = pulumi.Output.secret(args.provided_key_pem)
        else:
            key = tls.PrivateKey(f"{name}-key", **key_args(args.key_algorithm), opts=child)
            key_pem = pulumi.Output.secret(key.private_key_pem)
            usages = list(args.usages if args.usages is not None
                          else CA_USAGES if args.is_ca else CLIENT_USAGES)
            if args.key_algorithm.startswith("rsa") and "key_encipherment" not in usages:
                usages.append("key_encipherment")
            subject = {"common_name": args.common_name}
            if args.organization:
                subject["organization"] = args.organization
            common = dict(
                allowed_uses=usages,
                validity_period_hours=args.validity_hours,
                early_renewal_hours=args.early_renewal_hours,
                is_ca_certificate=args.is_ca,
                set_subject_key_id=True,
            )
            if args.ca is None:
                cert = tls.SelfSignedCert(
                    f"{name}-cert", private_key_pem=key_pem, subject=subject,
                    dns_names=list(args.dns_names) or None, **common, opts=child)
            else:
                csr = tls.CertRequest(
                    f"{name}-csr", private_key_pem=key_pem, subject=subject,
                    dns_names=list(args.dns_names) or None, opts=child)
                cert = tls.LocallySignedCert(
                    f"{name}-cert", cert_request_pem=csr.cert_request_pem,
                    ca_cert_pem=args.ca.cert_pem, ca_private_key_pem=args.ca.private_key_pem,
                    **common, opts=child)
            cert_pem = cert.cert_pem

        self.cert_pem = cert_pem
        self.private_key_pem = key_pem
        self.cert_sha256 = cert_pem.apply(lambda pem: hashlib.sha256(pem.encode()).hexdigest())
        self.register_outputs({
            "certPem": self.cert_pem,
            "privateKeyPem": self.private_key_pem,
            "certSha256": self.cert_sha256,
        })
