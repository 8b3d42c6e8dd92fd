"""ClusterCertificate (components/certificates.py) under the mocks, checked with real cryptography.

The fake cloud makes real keys and certificates for the pulumi-tls resources, so each test reads
the PEMs the component produced (exported as stack outputs) and checks what they really are.
Each test runs its own small program afresh.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from typing import Callable

import pulumi
import pulumi_tls as tls
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store
from pulumi.runtime.rpc import is_rpc_secret

from components.certificates import (CA_USAGES, CERTIFICATE_DEFAULTS, SERVER_USAGES, ClusterCertificate,
                                     ClusterCertificateArgs, key_args)
from tests.conftest import reference_json, self_signed_pem
from tools.mocks import RunResult, run_program

COMPONENT = "kong-aws:index:ClusterCertificate"
PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert"
CERT_REQUEST = "tls:index/certRequest:CertRequest"
LOCALLY_SIGNED = "tls:index/locallySignedCert:LocallySignedCert"


def _run(program: Callable[[], None]) -> RunResult:
    return run_program(program, {"aws:region": "us-west-2"})


def _export(prefix: str, cert: ClusterCertificate) -> None:
    pulumi.export(f"{prefix}Cert", cert.cert_pem)
    pulumi.export(f"{prefix}Key", cert.private_key_pem)
    pulumi.export(f"{prefix}Sha256", cert.cert_sha256)


def _single(args: ClusterCertificateArgs, name: str = "dp") -> RunResult:
    def program() -> None:
        _export("dp", ClusterCertificate(name, args))
    return _run(program)


def _cert(result: RunResult, prefix: str = "dp") -> x509.Certificate:
    return x509.load_pem_x509_certificate(result.outputs[f"{prefix}Cert"][0].encode())


def _key(result: RunResult, prefix: str = "dp"):
    return serialization.load_pem_private_key(result.outputs[f"{prefix}Key"][0].encode(), password=None)


def _ext(cert: x509.Certificate, kind):
    return cert.extensions.get_extension_for_class(kind).value


def _kong_clustering_recipe() -> tuple[str, str, int]:
    """CN, curve and days of the cluster certificate in Kong's Konnect install guide (reference)."""
    note = reference_json("konnect-endpoints.json")["helm_values_dp_from_docs"]["_note"]
    found = re.search(r"CN=(\w+) \(openssl ec (\w+), (\d+) days\)", note)
    assert found, note
    return found.group(1), found.group(2), int(found.group(3))


# --- key_args -----------------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm, expected", [
    ("ecdsa-p384", {"algorithm": "ECDSA", "ecdsa_curve": "P384"}),
    ("rsa-2048", {"algorithm": "RSA", "rsa_bits": 2048}),
    ("rsa-4096", {"algorithm": "RSA", "rsa_bits": 4096}),
])
def test_key_args_maps_to_pulumi_tls_private_key_arguments(algorithm, expected):
    args = key_args(algorithm)
    assert args == expected
    # The names must be real PrivateKey arguments, or pulumi-tls would reject them.
    tls.PrivateKeyArgs(**args)


@pytest.mark.parametrize("algorithm", ["ed25519", "rsa-1024", "ECDSA", ""])
def test_key_args_rejects_unknown_algorithms(algorithm):
    with pytest.raises(ValueError, match="unknown key algorithm"):
        key_args(algorithm)


# --- generated, self-signed (the Konnect pinned client certificate) -----------------------------

def test_default_is_konnect_style_ecdsa_p384_client_certificate():
    result = _single(ClusterCertificateArgs())
    cert = _cert(result)
    common_name, curve, days = _kong_clustering_recipe()

    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == curve  # secp384r1
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == common_name
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(days=days)

    # Self-signed, and signed by the key the component hands out.
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)
    assert _key(result).public_key().public_numbers() == public_key.public_numbers()

    # A client certificate: digitalSignature + clientAuth, never a CA or a server certificate.
    assert _ext(cert, x509.BasicConstraints).ca is False
    usage = _ext(cert, x509.KeyUsage)
    assert usage.digital_signature and not usage.key_cert_sign and not usage.key_encipherment
    assert list(_ext(cert, x509.ExtendedKeyUsage)) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_generated_children_are_parented_and_key_stays_secret():
    result = _single(ClusterCertificateArgs())
    component = result.one(COMPONENT)
    key, cert = result.one(PRIVATE_KEY), result.one(SELF_SIGNED)
    assert (key.name, cert.name) == ("dp-key", "dp-cert")
    assert key.parent == component.urn and cert.parent == component.urn
    assert result.of_type(CERT_REQUEST) == [] and result.of_type(LOCALLY_SIGNED) == []

    assert is_rpc_secret(cert.inputs["privateKeyPem"])
    value, secret = result.outputs["dpKey"]
    assert secret is True and "PRIVATE KEY" in value
    # The certificate is public: Konnect pins it and operators read it.
    assert result.outputs["dpCert"][1] is False


def test_rsa_2048_key_and_key_encipherment():
    result = _single(ClusterCertificateArgs(key_algorithm="rsa-2048"))
    cert = _cert(result)
    public_key = cert.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size == 2048
    usage = _ext(cert, x509.KeyUsage)
    assert usage.key_encipherment and usage.digital_signature
    assert "key_encipherment" in result.one(SELF_SIGNED).inputs["allowedUses"]
    assert result.one(PRIVATE_KEY).inputs == {"algorithm": "RSA", "rsaBits": 2048}


def test_ecdsa_key_gets_no_key_encipherment():
    # keyEncipherment is an RSA key-transport usage; an EC certificate must not claim it.
    result = _single(ClusterCertificateArgs())
    assert "key_encipherment" not in result.one(SELF_SIGNED).inputs["allowedUses"]


def test_subject_common_name_and_organization():
    cert = _cert(_single(ClusterCertificateArgs(common_name="dp-eu-1", organization="Example Corp")))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "dp-eu-1"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Example Corp"


def test_no_organization_means_no_o_attribute():
    cert = _cert(_single(ClusterCertificateArgs()))
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME) == []


def test_validity_and_early_renewal_are_registered():
    result = _single(ClusterCertificateArgs(validity_days=2, early_renewal_days=1))
    cert = _cert(result)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(hours=48)
    inputs = result.one(SELF_SIGNED).inputs
    assert inputs["validityPeriodHours"] == 48
    # Without earlyRenewalHours `pulumi up` would let the certificate expire under Kong.
    assert inputs["earlyRenewalHours"] == 24


def test_cert_sha256_is_the_digest_of_the_pem_text():
    result = _single(ClusterCertificateArgs())
    pem = result.outputs["dpCert"][0]
    assert result.outputs["dpSha256"][0] == hashlib.sha256(pem.encode()).hexdigest()


# --- a CA and a certificate it signs (cluster_mtls pki) -----------------------------------------

def _ca_and_leaf(ca_usages=CA_USAGES) -> RunResult:
    def program() -> None:
        ca_kwargs = {} if ca_usages is None else {"usages": ca_usages}
        ca = ClusterCertificate("ca", ClusterCertificateArgs(common_name="kong-cluster-ca", is_ca=True,
                                                             **ca_kwargs))
        leaf = ClusterCertificate("cp", ClusterCertificateArgs(
            common_name="kong-cp", usages=list(SERVER_USAGES), ca_cert_pem=ca.cert_pem,
            ca_private_key_pem=ca.private_key_pem,
            dns_names=["kong-cp.kong.svc", "kong-cp.kong.svc.cluster.local"]))
        # cryptography's client verifier insists on a SAN (Kong does not), hence the name.
        client = ClusterCertificate("dp", ClusterCertificateArgs(
            ca_cert_pem=ca.cert_pem, ca_private_key_pem=ca.private_key_pem, dns_names=["dp-1.kong.internal"]))
        _export("ca", ca)
        _export("cp", leaf)
        _export("dp", client)
    return _run(program)


def test_ca_is_a_certificate_authority():
    ca = _cert(_ca_and_leaf(), "ca")
    assert _ext(ca, x509.BasicConstraints).ca is True
    assert _ext(ca, x509.KeyUsage).key_cert_sign is True


def test_signed_certificates_chain_to_the_ca_and_carry_the_dns_names():
    result = _ca_and_leaf()
    ca, cp, dp = _cert(result, "ca"), _cert(result, "cp"), _cert(result, "dp")

    for leaf, prefix in ((cp, "cp"), (dp, "dp")):
        assert leaf.issuer == ca.subject
        leaf.verify_directly_issued_by(ca)
        # The leaf carries its own key, not the CA's.
        assert _key(result, prefix).public_key().public_numbers() == leaf.public_key().public_numbers()
        assert _ext(leaf, x509.BasicConstraints).ca is False

    san = _ext(cp, x509.SubjectAlternativeName).get_values_for_type(x509.DNSName)
    assert sorted(san) == ["kong-cp.kong.svc", "kong-cp.kong.svc.cluster.local"]
    assert list(_ext(cp, x509.ExtendedKeyUsage)) == [ExtendedKeyUsageOID.SERVER_AUTH]

    # Full RFC 5280 path validation, as a TLS peer would do it (key usages included).
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
    store = Store([ca])
    PolicyBuilder().store(store).time(now).build_server_verifier(
        x509.DNSName("kong-cp.kong.svc")).verify(cp, [])
    verified = PolicyBuilder().store(store).time(now).build_client_verifier().verify(dp, [])
    assert verified.chain == [dp, ca]


def test_signed_certificate_registers_csr_and_locally_signed_cert_with_secret_keys():
    result = _ca_and_leaf()
    by_name = {r.name: r for r in result.registrations}
    components = {r.name: r.urn for r in result.of_type(COMPONENT)}
    assert {"cp-key", "cp-csr", "cp-cert"} <= set(by_name)
    assert by_name["cp-csr"].type == CERT_REQUEST and by_name["cp-cert"].type == LOCALLY_SIGNED
    assert {r.name for r in result.of_type(SELF_SIGNED)} == {"ca-cert"}
    for name in ("cp-key", "cp-csr", "cp-cert"):
        assert by_name[name].parent == components["cp"]

    assert is_rpc_secret(by_name["cp-csr"].inputs["privateKeyPem"])
    assert is_rpc_secret(by_name["cp-cert"].inputs["caPrivateKeyPem"])
    assert by_name["cp-csr"].inputs["dnsNames"] == ["kong-cp.kong.svc", "kong-cp.kong.svc.cluster.local"]
    assert by_name["cp-cert"].inputs["caCertPem"] == result.outputs["caCert"][0]
    assert by_name["cp-cert"].inputs["earlyRenewalHours"] == CERTIFICATE_DEFAULTS["early_renewal_days"] * 24
    assert by_name["cp-cert"].inputs["validityPeriodHours"] == CERTIFICATE_DEFAULTS["validity_days"] * 24
    assert result.outputs["cpKey"][1] is True and result.outputs["caKey"][1] is True


def test_is_ca_alone_makes_a_ca_that_can_sign():
    result = _ca_and_leaf(ca_usages=None)
    ca = _cert(result, "ca")
    assert _ext(ca, x509.KeyUsage).key_cert_sign is True
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
    PolicyBuilder().store(Store([ca])).time(now).build_server_verifier(
        x509.DNSName("kong-cp.kong.svc")).verify(_cert(result, "cp"), [])


# --- provided certificate and key (e.g. from the Konnect UI) ------------------------------------

def _real_pair(common_name: str = "kong_clustering") -> tuple[str, str]:
    return self_signed_pem(common_name)


def test_provided_pems_register_no_tls_resources_and_key_comes_back_secret():
    cert_pem, key_pem = _real_pair()
    # The key is handed over in plain text: the component must make it a secret itself.
    result = _single(ClusterCertificateArgs(provided_cert_pem=cert_pem, provided_key_pem=key_pem))
    assert not [r for r in result.registrations if r.type.startswith("tls:")]
    assert result.outputs["dpCert"] == (cert_pem, False)
    assert result.outputs["dpKey"] == (key_pem, True)
    assert result.outputs["dpSha256"][0] == hashlib.sha256(cert_pem.encode()).hexdigest()


# --- invalid arguments are refused before anything is declared ----------------------------------

def _bad_cases() -> list:
    cert_pem, key_pem = _real_pair()
    return [
        pytest.param(lambda _: ClusterCertificateArgs(provided_cert_pem=cert_pem), "provided", id="cert-only"),
        pytest.param(lambda _: ClusterCertificateArgs(provided_key_pem=key_pem), "provided", id="key-only"),
        pytest.param(lambda _: ClusterCertificateArgs(provided_cert_pem=cert_pem, provided_key_pem=key_pem,
                                                      is_ca=True), "CA", id="provided-as-ca"),
        pytest.param(lambda other: ClusterCertificateArgs(provided_cert_pem=cert_pem, provided_key_pem=key_pem,
                                                          ca_cert_pem=other.cert_pem,
                                                          ca_private_key_pem=other.private_key_pem),
                     "CA", id="provided-with-ca"),
        pytest.param(lambda other: ClusterCertificateArgs(ca_cert_pem=other.cert_pem), "ca_private_key_pem",
                     id="ca-cert-without-key"),
        pytest.param(lambda _: ClusterCertificateArgs(validity_days=30, early_renewal_days=30),
                     "early_renewal_days", id="renewal-equals-validity"),
        pytest.param(lambda _: ClusterCertificateArgs(validity_days=1, early_renewal_days=30),
                     "early_renewal_days", id="renewal-exceeds-validity"),
    ]


@pytest.mark.parametrize("make_args, mentions", _bad_cases())
def test_invalid_arguments_raise_before_any_child_is_registered(make_args, mentions):
    errors: list[ValueError] = []

    def program() -> None:
        not_ca = ClusterCertificate("plain", ClusterCertificateArgs())
        try:
            ClusterCertificate("bad", make_args(not_ca))
        except ValueError as error:
            errors.append(error)

    result = _run(program)
    assert len(errors) == 1 and mentions in str(errors[0])
    assert [r.name for r in result.registrations if r.name == "bad" or r.name.startswith("bad-")] == []
