"""Cluster certificates for Kong hybrid mode and Konnect, made with pulumi-tls.

One component, :class:`ClusterCertificate`, makes every certificate the project needs:

- a data plane client certificate that Konnect pins (self-signed; ``pinned_client_certs``),
- a certificate authority (``is_ca=True``) and certificates it signs (``ca_cert_pem`` and ``ca_private_key_pem``), for the
  ``cluster_mtls pki`` of a self-hosted control plane and its data planes,
- or, instead of generating, a certificate and key the user already has (``provided_cert_pem`` and
  ``provided_key_pem``, e.g. from the Konnect UI's "Generate certificate").

The private key is a Pulumi secret wherever it goes. ``early_renewal_days`` makes ``pulumi up``
replace a generated certificate that is inside that window before its expiry; ``generation`` (a
Pulumi ``replacementTrigger``) replaces it on purpose.

Certificate slots (konnect-ecs with manual pinning, :class:`components.konnect_ecs.KonnectEcsGateway`):
two generated certificates, ``a`` and ``b``, of which the data planes present one
(``active_slot``), so that the other can be renewed (``slot_generations``) and pinned while they
keep theirs. :func:`certificate_fingerprint` is the SHA-256 fingerprint that ``pinned_sha256``
lists.
"""

import datetime
import enum
import hashlib
from typing import Any, Optional, TypedDict

import pulumi
import pulumi_tls as tls

from components.kong_facts import DEFAULT_CLUSTER_CN
from components.package import type_token, with_defaults

#: X.509 usages (pulumi-tls ``allowed_uses`` names) for each kind of certificate.
CLIENT_USAGES = ("digital_signature", "client_auth")
SERVER_USAGES = ("digital_signature", "server_auth")
CA_USAGES = ("cert_signing", "crl_signing", "digital_signature")


class KeyAlgorithm(str, enum.Enum):
    """The key of a generated certificate: ECDSA on P-384, or RSA of 2048 or 4096 bits."""

    ECDSA_P384 = "ecdsa-p384"
    RSA_2048 = "rsa-2048"
    RSA_4096 = "rsa-4096"


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


class CertificateSlot(str, enum.Enum):
    """One of the two certificate slots of konnect-ecs with manual pinning."""

    A = "a"
    B = "b"


class GeneratedCertificateSettings(TypedDict, total=False):
    """How a generated cluster certificate is made (defaults: :data:`CERTIFICATE_DEFAULTS`)."""

    common_name: str
    """subject CN (default ``kong_clustering``)"""
    organization: str
    """subject O (default none)"""
    key_algorithm: KeyAlgorithm
    """``ecdsa-p384`` (default), ``rsa-2048``, ``rsa-4096``"""
    validity_days: int
    """days the certificate is valid (default 1095)"""
    early_renewal_days: int
    """``pulumi up`` replaces the certificate inside this many days before expiry (default 30)"""


class CertificateSettings(GeneratedCertificateSettings, total=False):
    """How generated cluster certificates are made, as a user chooses, and, in konnect-ecs with
    manual pinning only, which of the two certificate slots the data planes present (defaults:
    :data:`CERTIFICATE_DEFAULTS`)."""

    active_slot: CertificateSlot
    """konnect-ecs, manual pinning: the slot (``a``, default, or ``b``) whose certificate the data planes present"""
    slot_generations: dict[str, int]
    """konnect-ecs, manual pinning: a number per slot (default ``{"a": 1, "b": 1}``); raising one replaces that slot's key and certificate"""
    pinned_sha256: list[str]
    """konnect-ecs, manual pinning: SHA-256 fingerprints (hex, of the DER) of the certificates pinned in Konnect; when given, the data planes never present another (default none)"""


class ClusterCertificateArgs(GeneratedCertificateSettings, total=False):
    """Arguments of :class:`ClusterCertificate` (defaults: :data:`CERTIFICATE_DEFAULTS`).

    Which certificate is made depends on which arguments are present: ``provided_cert_pem`` with
    ``provided_key_pem`` (use these), ``is_ca`` (a certificate authority), ``ca_cert_pem`` with
    ``ca_private_key_pem`` (signed by that authority), or none of them (self-signed).
    """

    usages: list[str]
    """pulumi-tls ``allowed_uses`` (default: client usages, or CA usages with ``is_ca``); RSA keys also get ``key_encipherment``"""
    dns_names: list[str]
    """subject alternative names (a control plane's service names)"""
    is_ca: bool
    """make a certificate authority (default false)"""
    ca_cert_pem: pulumi.Input[str]
    """the authority that signs this certificate (PEM); with ``ca_private_key_pem``"""
    ca_private_key_pem: pulumi.Input[str]
    """that authority's private key (PEM, secret)"""
    provided_cert_pem: pulumi.Input[str]
    """use this certificate (PEM) instead of generating one; with ``provided_key_pem``"""
    provided_key_pem: pulumi.Input[str]
    """its private key (PEM); made a secret"""
    generation: int
    """a number whose change replaces the generated key and certificate (Pulumi ``replacementTrigger``; default none)"""


class _CertificateDefaults(ClusterCertificateArgs, CertificateSettings, total=False):
    """The settings of :class:`ClusterCertificateArgs` and :class:`CertificateSettings` together."""


#: Defaults of :class:`ClusterCertificateArgs` and :class:`CertificateSettings`, the only place
#: they are written. ``pinned_sha256`` empty: no fingerprint confirmed (the rule of
#: :func:`components.konnect_ecs.check_presented_certificate` for that case applies).
CERTIFICATE_DEFAULTS: _CertificateDefaults = {
    "common_name": DEFAULT_CLUSTER_CN, "key_algorithm": KeyAlgorithm.ECDSA_P384,
    "validity_days": 1095, "early_renewal_days": 30, "is_ca": False, "dns_names": [],
    "active_slot": CertificateSlot.A, "slot_generations": {"a": 1, "b": 1}, "pinned_sha256": []}


def certificate_fingerprint(pem: str) -> str:
    """The SHA-256 fingerprint of the (first) certificate in ``pem``: lower-case hex of the DER
    encoding, what ``openssl x509 -noout -fingerprint -sha256`` prints without the colons and
    what Kong calls ``cert_digest``. Raises ``ValueError`` when ``pem`` holds no certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    return x509.load_pem_x509_certificate(pem.encode()).fingerprint(hashes.SHA256()).hex()


def certificate_validity(pem: str) -> tuple[datetime.datetime, datetime.datetime]:
    """``(not before, not after)`` of the certificate in ``pem``, in UTC."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(pem.encode())
    return cert.not_valid_before_utc, cert.not_valid_after_utc


class ClusterCertificate(pulumi.ComponentResource):
    """A certificate and its private key (type ``kong-aws:index:ClusterCertificate``).

    Outputs: ``cert_pem`` (PEM certificate, public), ``private_key_pem`` (PEM key, secret), and
    ``cert_sha256`` (hex SHA-256 of the PEM text, a cheap change marker for rolling workloads).
    Children: ``{name}-key`` (``tls:PrivateKey``) and ``{name}-cert`` (``tls:SelfSignedCert``, or
    ``{name}-csr`` and a ``tls:LocallySignedCert`` when ``ca`` is given); none when provided.
    With ``generation``, each child carries it as its ``replacementTrigger``: a new number replaces
    the key and the certificate (a change from or to no number does not, as the engine treats an
    absent trigger).

    Raises ``ValueError`` when only one of a pair of PEMs (provided, or CA) is given, when a
    provided certificate is combined with a CA or ``is_ca``, or when ``early_renewal_days`` is not
    less than ``validity_days``.
    """

    cert_pem: pulumi.Output[str]
    """the certificate, PEM (public)"""
    private_key_pem: pulumi.Output[str]
    """its private key, PEM (secret)"""
    cert_sha256: pulumi.Output[str]
    """hex SHA-256 of the PEM text, a change marker that rolls workloads"""

    def __init__(self, name: str, args: ClusterCertificateArgs,
                 opts: Optional[pulumi.ResourceOptions] = None):
        settings = with_defaults(args, CERTIFICATE_DEFAULTS)
        provided = ("provided_cert_pem" in settings, "provided_key_pem" in settings)
        signed = ("ca_cert_pem" in settings, "ca_private_key_pem" in settings)
        if provided[0] != provided[1]:
            raise ValueError("give both provided_cert_pem and provided_key_pem, or neither")
        if signed[0] != signed[1]:
            raise ValueError("give both ca_cert_pem and ca_private_key_pem, or neither")
        if provided[0] and (signed[0] or settings["is_ca"]):
            raise ValueError("a provided certificate cannot also be generated as or by a CA")
        if settings["early_renewal_days"] >= settings["validity_days"]:
            raise ValueError("early_renewal_days must be less than validity_days")
        super().__init__(type_token(ClusterCertificate), name, None, opts)
        trigger: dict[str, Any] = {}
        if settings.get("generation") is not None:
            trigger["replacement_trigger"] = settings["generation"]
        child = pulumi.ResourceOptions(parent=self, **trigger)
        algorithm = KeyAlgorithm(settings["key_algorithm"])

        if provided[0]:
            cert_pem = pulumi.Output.from_input(settings["provided_cert_pem"])
            key_pem = pulumi.Output.secret(settings["provided_key_pem"])
        else:
            key = tls.PrivateKey(f"{name}-key", **key_args(algorithm), opts=child)
            key_pem = pulumi.Output.secret(key.private_key_pem)
            usages = list(settings["usages"] if settings.get("usages") is not None
                          else CA_USAGES if settings["is_ca"] else CLIENT_USAGES)
            if algorithm is not KeyAlgorithm.ECDSA_P384 and "key_encipherment" not in usages:
                usages.append("key_encipherment")
            common_name, organization = settings["common_name"], settings.get("organization") or None
            validity_hours, renewal_hours = settings["validity_days"] * 24, settings["early_renewal_days"] * 24
            dns_names = list(settings["dns_names"]) or None
            cert: "tls.SelfSignedCert | tls.LocallySignedCert"
            if not signed[0]:
                cert = tls.SelfSignedCert(
                    f"{name}-cert", private_key_pem=key_pem, dns_names=dns_names,
                    subject=tls.SelfSignedCertSubjectArgs(common_name=common_name, organization=organization),
                    allowed_uses=usages, validity_period_hours=validity_hours, early_renewal_hours=renewal_hours,
                    is_ca_certificate=settings["is_ca"], set_subject_key_id=True, opts=child)
            else:
                csr = tls.CertRequest(
                    f"{name}-csr", private_key_pem=key_pem, dns_names=dns_names,
                    subject=tls.CertRequestSubjectArgs(common_name=common_name, organization=organization),
                    opts=child)
                cert = tls.LocallySignedCert(
                    f"{name}-cert", cert_request_pem=csr.cert_request_pem,
                    ca_cert_pem=settings["ca_cert_pem"],
                    ca_private_key_pem=pulumi.Output.secret(settings["ca_private_key_pem"]),
                    allowed_uses=usages, validity_period_hours=validity_hours, early_renewal_hours=renewal_hours,
                    is_ca_certificate=settings["is_ca"], set_subject_key_id=True, opts=child)
            cert_pem = cert.cert_pem

        self.cert_pem = cert_pem
        self.private_key_pem = key_pem
        self.cert_sha256 = cert_pem.apply(lambda pem: hashlib.sha256(pem.encode()).hexdigest())
        self.register_outputs({
            "certPem": self.cert_pem,
            "privateKeyPem": self.private_key_pem,
            "certSha256": self.cert_sha256,
        })
