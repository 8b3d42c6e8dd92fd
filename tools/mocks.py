"""Pulumi's mock runtime with a deterministic fake AWS, shared by the tests and ``tools.render``.

:func:`run_program` runs the real ``__main__.py`` (or any callable) afresh under Pulumi's mocks and
returns what it registered, as the engine would have received it: each resource's URN, type, name,
parent, inputs (camelCase, secrets still marked) and dependencies, plus the stack outputs.

The fake cloud answers with one account id (:data:`ACCOUNT_ID`), the stack's region and that
region's real availability zones (:mod:`components.aws_facts`). TLS resources get real keys and
certificates made with ``cryptography``, so a test can check what a certificate really is. An
invoke the fake cloud does not know fails loudly.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import runpy
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings as pulumi_settings
from pulumi.runtime import resource as pulumi_resource_runtime
from pulumi.runtime.proto import resource_pb2, source_pb2
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from components import aws_facts

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_ID = "123456789012"
SECRET_MASK = "[secret]"


def _digest(*parts: str, length: int = 17) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


# ---------------------------------------------------------------------------------------------
# Real TLS material for the pulumi-tls resources.

def _crypto():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    return x509, hashes, serialization, ec, rsa, ExtendedKeyUsageOID, NameOID


_RSA_CACHE: dict[tuple[str, int], Any] = {}


def _private_key(inputs: dict, seed: str):
    x509, hashes, serialization, ec, rsa, *_ = _crypto()
    algorithm = inputs.get("algorithm")
    if algorithm == "ECDSA":
        curve = {"P224": ec.SECP224R1(), "P256": ec.SECP256R1(), "P384": ec.SECP384R1(),
                 "P521": ec.SECP521R1()}[inputs.get("ecdsaCurve", "P224")]
        # Deterministic per resource: the same URN gives the same key in every run.
        value = int.from_bytes(hashlib.sha512(seed.encode()).digest(), "big") % (2 ** 200) + 1
        return ec.derive_private_key(value, curve)
    if algorithm == "RSA":
        bits = int(inputs.get("rsaBits", 2048))
        if (seed, bits) not in _RSA_CACHE:
            _RSA_CACHE[(seed, bits)] = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        return _RSA_CACHE[(seed, bits)]
    raise ValueError(f"tls:PrivateKey: unsupported algorithm {algorithm!r}")


def _pem_key(key) -> tuple[str, str]:
    _, _, serialization, ec, *_ = _crypto()
    traditional = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption()).decode()
    pkcs8 = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode()
    return traditional, pkcs8


def _load_key(pem: str):
    _, _, serialization, *_ = _crypto()
    return serialization.load_pem_private_key(_plain(pem).encode(), password=None)


def _name(subject: Optional[dict]):
    x509, *_, NameOID = _crypto()
    subject = subject or {}
    attrs = []
    for key, oid in (("country", NameOID.COUNTRY_NAME), ("province", NameOID.STATE_OR_PROVINCE_NAME),
                     ("locality", NameOID.LOCALITY_NAME), ("organization", NameOID.ORGANIZATION_NAME),
                     ("organizationalUnit", NameOID.ORGANIZATIONAL_UNIT_NAME),
                     ("commonName", NameOID.COMMON_NAME)):
        if subject.get(key):
            attrs.append(x509.NameAttribute(oid, subject[key]))
    return x509.Name(attrs)


_KEY_USAGES = {"digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
               "key_agreement", "cert_signing", "crl_signing", "encipher_only", "decipher_only"}


def _build_cert(inputs: dict, subject, public_key, issuer, issuer_key, seed: str) -> tuple[str, dict]:
    x509, hashes, serialization, ec, rsa, EKU, _ = _crypto()
    uses = set(inputs.get("allowedUses") or [])
    unknown = uses - _KEY_USAGES - {"server_auth", "client_auth", "code_signing", "email_protection",
                                    "timestamping", "ocsp_signing", "any_extended"}
    if unknown:
        raise ValueError(f"tls: unknown allowed_uses {sorted(unknown)}")
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    hours = int(inputs.get("validityPeriodHours", 0))
    not_after = now + datetime.timedelta(hours=hours)
    is_ca = bool(inputs.get("isCaCertificate", False))
    serial = int(_digest(seed, str(now), length=30), 16)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(public_key).serial_number(serial).not_valid_before(now).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True))
    if uses & _KEY_USAGES:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature="digital_signature" in uses, content_commitment="content_commitment" in uses,
            key_encipherment="key_encipherment" in uses, data_encipherment="data_encipherment" in uses,
            key_agreement="key_agreement" in uses, key_cert_sign="cert_signing" in uses,
            crl_sign="crl_signing" in uses, encipher_only="encipher_only" in uses,
            decipher_only="decipher_only" in uses), critical=True)
    ekus = [oid for name, oid in (("server_auth", EKU.SERVER_AUTH), ("client_auth", EKU.CLIENT_AUTH),
                                  ("code_signing", EKU.CODE_SIGNING), ("email_protection", EKU.EMAIL_PROTECTION),
                                  ("timestamping", EKU.TIME_STAMPING), ("ocsp_signing", EKU.OCSP_SIGNING))
            if name in uses]
    if ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    dns_names = inputs.get("dnsNames") or []
    if dns_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False)
    if inputs.get("setSubjectKeyId"):
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    if issuer_key is not None and issuer_key.public_key() != public_key:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    algorithm = hashes.SHA384() if isinstance(issuer_key, ec.EllipticCurvePrivateKey) else hashes.SHA256()
    cert = builder.sign(issuer_key, algorithm)
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return pem, {
        "certPem": pem,
        "validityStartTime": now.isoformat().replace("+00:00", "Z"),
        "validityEndTime": not_after.isoformat().replace("+00:00", "Z"),
        "readyForRenewal": False,
    }


def _tls_resource(typ: str, inputs: dict, seed: str) -> tuple[str, dict]:
    x509, hashes, serialization, *_ = _crypto()
    if typ == "tls:index/privateKey:PrivateKey":
        key = _private_key(inputs, seed)
        traditional, pkcs8 = _pem_key(key)
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        openssh = key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
        return _digest(seed, length=40), {
            "privateKeyPem": traditional, "privateKeyPemPkcs8": pkcs8, "publicKeyPem": public_pem,
            "publicKeyOpenssh": openssh + "\n", "privateKeyOpenssh": "",
            "publicKeyFingerprintSha256": "SHA256:" + _digest(public_pem, length=43),
            "publicKeyFingerprintMd5": _digest("md5", public_pem, length=32)}
    if typ == "tls:index/selfSignedCert:SelfSignedCert":
        key = _load_key(inputs["privateKeyPem"])
        subject = _name(inputs.get("subject"))
        pem, state = _build_cert(inputs, subject, key.public_key(), subject, key, seed)
        return str(x509.load_pem_x509_certificate(pem.encode()).serial_number), state
    if typ == "tls:index/certRequest:CertRequest":
        key = _load_key(inputs["privateKeyPem"])
        builder = x509.CertificateSigningRequestBuilder().subject_name(_name(inputs.get("subject")))
        if inputs.get("dnsNames"):
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in inputs["dnsNames"]]), critical=False)
        csr = builder.sign(key, hashes.SHA256())
        return _digest(seed, length=40), {"certRequestPem": csr.public_bytes(serialization.Encoding.PEM).decode()}
    if typ == "tls:index/locallySignedCert:LocallySignedCert":
        csr = x509.load_pem_x509_csr(_plain(inputs["certRequestPem"]).encode())
        ca_cert = x509.load_pem_x509_certificate(_plain(inputs["caCertPem"]).encode())
        ca_key = _load_key(inputs["caPrivateKeyPem"])
        merged = dict(inputs)
        try:
            san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            merged["dnsNames"] = san.get_values_for_type(x509.DNSName)
        except x509.ExtensionNotFound:
            pass
        pem, state = _build_cert(merged, csr.subject, csr.public_key(), ca_cert.subject, ca_key, seed)
        return str(x509.load_pem_x509_certificate(pem.encode()).serial_number), state
    raise KeyError(typ)


def _plain(value: Any) -> Any:
    """The value inside a secret marker (inputs arrive marked as the engine receives them)."""
    return rpc.unwrap_rpc_secret(value)


# ---------------------------------------------------------------------------------------------
# The fake cloud.

class UnknownToFakeCloud(LookupError):
    """An invoke, read or resource the fake cloud has no answer for: the program asked for
    something the mocks do not know, so the test or render stops instead of guessing."""

_ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc", "aws:ec2/subnet:Subnet": "subnet", "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/eip:Eip": "eipalloc", "aws:ec2/natGateway:NatGateway": "nat", "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
    "aws:ec2/securityGroup:SecurityGroup": "sg", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr",
}


class FakeCloud(pulumi.runtime.Mocks):
    """Deterministic answers for the resources and invokes this program uses.

    ``new_resource`` echoes the inputs and adds what AWS would compute (ids, ARNs, names, DNS
    names) from a hash of the resource's type and name, so two runs give the same answers.
    ``call`` answers ``getAvailabilityZones`` (the region's zones and AZ IDs from
    :data:`components.aws_facts.AVAILABILITY_ZONES`, plus its Local Zones from
    :data:`components.aws_facts.LOCAL_ZONES`, of which the account has opted into the groups in
    :attr:`OPTED_IN_ZONE_GROUPS`; ``state``, ``filters``, ``allAvailabilityZones`` and the
    exclusions applied as EC2 applies them; a region or filter it does not know fails loudly) and
    ``getCallerIdentity`` (:data:`ACCOUNT_ID`), and raises :class:`UnknownToFakeCloud` for any
    other invoke.
    """

    #: The Local Zone groups the fake account has opted into (as an account that serves Los Angeles
    #: from us-west-2 has): their zones come in every answer without ``allAvailabilityZones``.
    OPTED_IN_ZONE_GROUPS = frozenset({"us-west-2-lax-1"})

    def __init__(self, region: str):
        self.region = region
        self.invokes: list[tuple[str, dict]] = []
        #: Every invoke as the engine received it, with the provider reference it was made with
        #: (an invoke parented to a component inherits the component's providers).
        self.calls: list[pulumi.runtime.MockCallArgs] = []

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.invokes.append((args.token, args.args))
        self.calls.append(args)
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            # The region's real zones and AZ IDs (components/aws_facts.py, with its source), and
            # its Local Zones, selected as DescribeAvailabilityZones selects (EC2 API reference).
            try:
                zones = aws_facts.zones_of(self.region)
            except KeyError as error:
                raise UnknownToFakeCloud(f"getAvailabilityZones: {error.args[0]}") from None
            query = dict(args.args)
            unknown = set(query) - {"state", "filters", "allAvailabilityZones", "excludeNames", "excludeZoneIds"}
            if unknown:
                raise UnknownToFakeCloud(f"getAvailabilityZones: arguments {sorted(unknown)} are not answered")
            rows = [{"zone-name": name, "zone-id": zid, "group-name": self.region, "zone-type": "availability-zone",
                     "opt-in-status": "opt-in-not-required", "state": "available", "region-name": self.region}
                    for name, zid in zones]
            rows += [{"zone-name": name, "zone-id": zid, "group-name": group, "zone-type": "local-zone",
                      "opt-in-status": "opted-in" if group in self.OPTED_IN_ZONE_GROUPS else "not-opted-in",
                      "state": "available", "region-name": self.region}
                     for name, zid, group in aws_facts.LOCAL_ZONES.get(self.region, ())]
            # Zones of groups not opted into are listed only when all zones are asked for.
            if not query.get("allAvailabilityZones"):
                rows = [r for r in rows if r["opt-in-status"] != "not-opted-in"]
            if query.get("state"):
                rows = [r for r in rows if r["state"] == query["state"]]
            for condition in query.get("filters") or []:
                if condition["name"] not in ("zone-name", "zone-id", "group-name", "zone-type", "opt-in-status",
                                             "state", "region-name"):
                    raise UnknownToFakeCloud(f"getAvailabilityZones: filter {condition['name']!r} is not answered")
                rows = [r for r in rows if r[condition["name"]] in condition["values"]]
            rows = [r for r in rows if r["zone-name"] not in (query.get("excludeNames") or [])
                    and r["zone-id"] not in (query.get("excludeZoneIds") or [])]
            return {"id": self.region, "names": [r["zone-name"] for r in rows],
                    "zoneIds": [r["zone-id"] for r in rows],
                    # A set in the provider's schema: one name per group (an AZ's group is its region).
                    "groupNames": sorted({r["group-name"] for r in rows}), **query}
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            # The deploying identity, as `aws sts get-caller-identity` shows an assumed role.
            return {"id": ACCOUNT_ID, "accountId": ACCOUNT_ID,
                    "arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/platform-deployer/kong-aws-offline",
                    "userId": "AROAOFFLINEROLE:kong-aws-offline"}
        if args.token == "aws:eks/getCluster:getCluster":
            return self._eks_cluster_state(args.args["name"])
        raise UnknownToFakeCloud(f"the fake cloud has no answer for invoke {args.token}")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        typ, name, inputs = args.typ, args.name, dict(args.inputs)
        if args.custom is False:  # a component (reads of existing resources come with custom None)
            return "", {}
        if typ.startswith("tls:"):
            rid, state = _tls_resource(typ, inputs, f"{typ}/{name}")
            return rid, {**inputs, **state}
        if typ.startswith("pulumi-python:dynamic/konnect:"):
            return self._konnect(typ, name, inputs)
        if typ == "pulumi-python:dynamic/ecs:RolloutGate":
            # The gate as it ends when the rollout succeeded: one deployment, all tasks running.
            return f"{_plain(inputs.get('cluster'))}/{_plain(inputs.get('service'))}", {
                **inputs, "deployment_id": f"ecs-svc/{_digest(typ, name, length=19)}", "running_count": 2,
                "connected_nodes": 2 if inputs.get("konnect") else 0}
        if typ.startswith("pulumi:providers:"):
            return f"{name}-provider-id", inputs
        if typ.startswith("kubernetes:"):
            if args.resource_id:
                return self._kubernetes_read(typ, args.resource_id)
            return self._kubernetes(typ, name, inputs)
        if typ.startswith("random:"):
            return self._random(typ, name, inputs)
        return self._aws(typ, name, inputs)

    def _eks_cluster_state(self, cluster_name: str) -> dict:
        digest = _digest("eks", cluster_name, length=32).upper()
        ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nOFFLINE\n-----END CERTIFICATE-----\n").decode()
        return {
            "id": cluster_name, "name": cluster_name,
            "arn": f"arn:aws:eks:{self.region}:{ACCOUNT_ID}:cluster/{cluster_name}",
            "endpoint": f"https://{digest}.gr7.{self.region}.eks.amazonaws.com",
            "certificateAuthority": {"data": ca}, "certificateAuthorities": [{"data": ca}],
            "version": "1.33", "status": "ACTIVE",
            "vpcConfig": {"clusterSecurityGroupId": f"sg-{_digest('eks-sg', cluster_name)}",
                          "vpcId": f"vpc-{_digest('eks-vpc', cluster_name)}",
                          "subnetIds": [f"subnet-{_digest('eks-subnet', cluster_name, str(i))}" for i in range(2)]},
            "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{self.region}.amazonaws.com/id/{digest}"}]}],
        }

    def _kubernetes(self, typ: str, name: str, inputs: dict) -> tuple[str, dict]:
        """Kubernetes objects as the API server would answer: the name given or an auto-name, and
        a Helm release's status."""
        state = dict(inputs)
        metadata = dict(_plain(inputs.get("metadata")) or {})
        if typ == "kubernetes:helm.sh/v3:Release":
            release = _plain(inputs.get("name")) or f"{name}-{_digest(name)[:8]}"
            namespace = _plain(inputs.get("namespace")) or "default"
            state["name"] = release
            state["status"] = {"name": release, "namespace": namespace, "status": "deployed", "revision": 1,
                               "chart": _plain(inputs.get("chart")), "version": _plain(inputs.get("version"))}
            return f"{namespace}/{release}", state
        metadata.setdefault("name", f"{name}-{_digest(typ, name)[:8]}")
        state["metadata"] = {**metadata, "uid": str(uuid.UUID(_digest(typ, name, length=32)))}
        namespace = metadata.get("namespace")
        return (f"{namespace}/{metadata['name']}" if namespace else metadata["name"]), state

    def _kubernetes_read(self, typ: str, resource_id: str) -> tuple[str, dict]:
        """An object read back by id (``namespace/name``): a Service of type LoadBalancer has the
        host name of the NLB the cluster made for it."""
        namespace, _, obj_name = resource_id.rpartition("/")
        state: dict = {"metadata": {"name": obj_name, "namespace": namespace or None}}
        if typ == "kubernetes:core/v1:Service":
            # The controller names the NLB k8s-<namespace>-<service>-<hash>; its DNS name adds the id.
            host = (f"k8s-{namespace[:8]}-{obj_name[:8]}-{_digest(resource_id)[:10]}-"
                    f"{_digest('nlb', resource_id)[:16]}.elb.{self.region}.amazonaws.com")
            state["spec"] = {"type": "LoadBalancer"}
            state["status"] = {"loadBalancer": {"ingress": [{"hostname": host}]}}
            return resource_id, state
        raise UnknownToFakeCloud(f"the fake cloud cannot read {typ} {resource_id}")

    def _random(self, typ: str, name: str, inputs: dict) -> tuple[str, dict]:
        if typ == "random:index/randomPassword:RandomPassword":
            length = int(inputs.get("length", 16))
            value = hashlib.sha512(f"{typ}/{name}".encode()).hexdigest()[:length]
            return "none", {**inputs, "result": value, "bcryptHash": "$2a$10$offline"}
        raise UnknownToFakeCloud(f"the fake cloud has no answer for resource {typ}")

    def _konnect(self, typ: str, name: str, inputs: dict) -> tuple[str, dict]:
        """A Konnect control plane, pinned certificate or gateway entity as the Konnect API would
        describe it: ids are UUIDs (an entity's is the one the stack chose), endpoints
        ``https://<prefix>.<region>.cp0.konghq.com`` (and ``tp0``)."""
        if typ.endswith(":GatewayEntity"):
            entity_id = str(_plain(inputs.get("entityId")))
            return entity_id, dict(inputs)
        rid = str(uuid.UUID(_digest(typ, name, length=32)))
        if typ.endswith(":ControlPlane"):
            api = str(_plain(inputs.get("apiUrl", "")))
            region = api.split("//", 1)[-1].split(".", 1)[0] if ".api.konghq.com" in api else "us"
            prefix = _digest(name, length=10)
            return rid, {**inputs, "controlPlaneId": rid, "adopted": False,
                         "controlPlaneEndpoint": f"https://{prefix}.{region}.cp0.konghq.com",
                         "telemetryEndpoint": f"https://{prefix}.{region}.tp0.konghq.com"}
        return rid, {**inputs, "certificateId": rid, "adopted": False}

    def _aws(self, typ: str, name: str, inputs: dict) -> tuple[str, dict]:
        region, digest = self.region, _digest(typ, name)
        module, kind = typ.split(":")[1].split("/")[0], typ.split(":")[2]
        physical = _plain(inputs.get("name")) or f"{name}-{digest[:7]}"
        state = dict(inputs)
        rid = f"{_ID_PREFIX[typ]}-{digest}" if typ in _ID_PREFIX else physical
        arn = f"arn:aws:{module}:{region}:{ACCOUNT_ID}:{kind.lower()}/{physical}"
        if typ == "aws:secretsmanager/secret:Secret":
            arn = f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{physical}-{digest[:6]}"
            rid = arn
            state["name"] = physical
        elif typ == "aws:secretsmanager/secretVersion:SecretVersion":
            version = str(uuid.UUID(_digest(typ, name, length=32)))
            state["versionId"] = version
            rid = f"{_plain(inputs['secretId'])}|{version}"
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            arn = f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{physical}"
            state["name"] = physical
        elif typ == "aws:iam/role:Role":
            arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{physical}"
            state["name"] = physical
            state["uniqueId"] = "AROA" + digest.upper()
        elif typ == "aws:ecs/taskDefinition:TaskDefinition":
            # Every registration is a new revision; a replacement (a new name here) is the next one.
            revision = 2 if name.endswith("-replacement") else 1
            arn = f"arn:aws:ecs:{region}:{ACCOUNT_ID}:task-definition/{inputs['family']}:{revision}"
            state["revision"] = revision
            state["arnWithoutRevision"] = arn.rsplit(":", 1)[0]
            rid = inputs["family"]
        elif typ == "aws:ecs/cluster:Cluster":
            arn = f"arn:aws:ecs:{region}:{ACCOUNT_ID}:cluster/{physical}"
            state["name"] = physical
            rid = arn
        elif typ == "aws:ecs/service:Service":
            cluster = str(_plain(inputs.get("cluster", ""))).rsplit("/", 1)[-1]
            arn = f"arn:aws:ecs:{region}:{ACCOUNT_ID}:service/{cluster}/{physical}"
            state["name"] = physical
            rid = arn
        elif typ == "aws:lb/loadBalancer:LoadBalancer":
            lb_name = physical[:32].rstrip("-")
            arn = f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT_ID}:loadbalancer/net/{lb_name}/{digest[:16]}"
            # An NLB's DNS name carries its name and the ARN's id (aws elbv2 create-load-balancer examples).
            state["dnsName"] = f"{lb_name}-{digest[:16]}.elb.{region}.amazonaws.com"
            state["zoneId"] = "Z31USIVHYNEOWT"
            state["name"] = lb_name
            # The CloudWatch dimension value: the ARN after "loadbalancer/" (net/<name>/<id>).
            state["arnSuffix"] = arn.split(":loadbalancer/", 1)[1]
            rid = arn
        elif typ == "aws:lb/targetGroup:TargetGroup":
            tg_name = physical[:32].rstrip("-")
            arn = f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT_ID}:targetgroup/{tg_name}/{digest[:16]}"
            state["name"] = tg_name
            state["arnSuffix"] = arn.rsplit(":", 1)[1]
            rid = arn
        elif typ == "aws:sns/topic:Topic":
            arn = f"arn:aws:sns:{region}:{ACCOUNT_ID}:{physical}"
            state["name"] = physical
            rid = arn
        elif typ == "aws:sns/topicSubscription:TopicSubscription":
            # An email subscription stays pending until its address confirms it.
            arn = f"{_plain(inputs.get('topic'))}:{uuid.UUID(_digest(typ, name, length=32))}"
            state["pendingConfirmation"] = inputs.get("protocol") == "email"
            rid = arn
        elif typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
            arn = f"arn:aws:cloudwatch:{region}:{ACCOUNT_ID}:alarm:{physical}"
        elif typ == "aws:cloudwatch/dashboard:Dashboard":
            physical = _plain(inputs.get("dashboardName")) or physical
            arn, rid = f"arn:aws:cloudwatch::{ACCOUNT_ID}:dashboard/{physical}", physical
        elif typ == "aws:lb/listener:Listener":
            arn = f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT_ID}:listener/net/{digest[:8]}/{digest[8:16]}"
            rid = arn
        elif typ == "aws:eks/cluster:Cluster":
            state.update({k: v for k, v in self._eks_cluster_state(physical).items() if k != "vpcConfig"})
            state["vpcConfig"] = {**(_plain(inputs.get("vpcConfig")) or {}),
                                  "clusterSecurityGroupId": self._eks_cluster_state(physical)["vpcConfig"]["clusterSecurityGroupId"]}
            arn, rid = state["arn"], physical
        elif typ == "aws:rds/instance:Instance":
            address = f"{physical}.{digest[:12]}.{region}.rds.amazonaws.com"
            arn = f"arn:aws:rds:{region}:{ACCOUNT_ID}:db:{physical}"
            state.update({"address": address, "endpoint": f"{address}:5432", "port": 5432,
                          "identifier": physical})
            rid = physical
        elif typ == "aws:rds/subnetGroup:SubnetGroup":
            arn = f"arn:aws:rds:{region}:{ACCOUNT_ID}:subgrp:{physical}"
            state["name"] = physical
        elif typ == "aws:rds/parameterGroup:ParameterGroup":
            arn = f"arn:aws:rds:{region}:{ACCOUNT_ID}:pg:{physical}"
            state["name"] = physical
        elif typ == "aws:appautoscaling/target:Target":
            rid = _plain(inputs.get("resourceId")) or physical
        elif typ == "aws:kms/key:Key":
            # A KMS key is named by a UUID key id.
            key_id = str(uuid.UUID(_digest(typ, name, length=32)))
            arn = f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{key_id}"
            state["keyId"] = key_id
            rid = key_id
        elif typ == "aws:eks/accessEntry:AccessEntry":
            cluster, principal = _plain(inputs.get("clusterName")), _plain(inputs.get("principalArn"))
            arn = f"arn:aws:eks:{region}:{ACCOUNT_ID}:access-entry/{cluster}/{digest[:12]}"
            state["accessEntryArn"] = arn
            state.setdefault("type", "STANDARD")
            rid = f"{cluster}:{principal}"
        elif typ == "aws:eks/accessPolicyAssociation:AccessPolicyAssociation":
            rid = "#".join(str(_plain(inputs.get(k))) for k in ("clusterName", "principalArn", "policyArn"))
        state["arn"] = arn
        state.setdefault("id", rid)
        state.setdefault("tagsAll", _plain(inputs.get("tags")) or {})
        return rid, state


# ---------------------------------------------------------------------------------------------
# Recording what the engine would receive.

@dataclass
class Registration:
    """One registered resource as the engine received it (inputs with secrets still marked)."""

    urn: str
    type: str
    name: str
    parent: Optional[str]
    custom: bool
    inputs: dict
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    options: dict
    #: The provider reference (``<provider urn>::<provider id>``) the resource was registered with,
    #: or None for the default provider.
    provider: Optional[str] = None
    #: Full URNs this resource was known by before (its own aliases and those inherited from its
    #: parents), as the SDK computes them (see :meth:`RecordingMonitor.SupportsFeature`).
    aliases: list[str] = field(default_factory=list)
    #: What the (fake) provider answered: the resource id and its output properties.
    id: Optional[str] = None
    outputs: dict = field(default_factory=dict)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that keeps each registration's request, and marks outputs that the engine
    would mark secret (``additionalSecretOutputs``), as the real engine does."""

    def __init__(self, mocks: pulumi.runtime.Mocks, prior: Optional["RunResult"] = None):
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self._by_urn: dict[str, Registration] = {}
        self._prior = {r.urn: r for r in prior.registrations} if prior is not None else {}
        self._replaced: set[str] = set()

    def _earlier(self, urn: str, aliases: list[str]) -> Optional[Registration]:
        """The registration of the earlier run (the state) that this one continues: same URN, or
        an alias of it."""
        return next((self._prior[u] for u in (urn, *aliases) if u in self._prior), None)

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # As the engine makes URNs (and the SDK's create_urn): the type is prefixed with the
        # parent's whole qualified type, and resources of the root stack get no prefix. (Pulumi's
        # own mock monitor prefixes only the parent's last type, and the stack's too.)
        if parent and type_ != "pulumi:pulumi:Stack":
            qualified = parent.split("::")[2]
            if qualified != "pulumi:pulumi:Stack":
                type_ = f"{qualified}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), type_, name])

    def GetDeploymentInfo(self, request):
        # Without alias specs the SDK resolves every alias, inherited ones included, to a full URN
        # itself (pulumi/runtime/resource.py all_aliases): the URNs the engine derives from alias
        # specs, which the tests compare with the URNs of an earlier layout.
        info = super().GetDeploymentInfo(request)
        features = [f for f in info.supportedFeatures if f != resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS]
        return resource_pb2.DeploymentInfo(supportedFeatures=features)

    def SupportsFeature(self, request):
        if request.id == "aliasSpecs":
            return type("SupportsFeatureResponse", (object,), {"hasSupport": False})
        return super().SupportsFeature(request)

    def _aliases(self, request) -> list[str]:
        """The request's alias URNs plus those inherited from its parent's aliases, as the engine
        derives them (a child named ``<parent name>-x`` of a parent once named ``old`` was
        ``old-x``; Pulumi's ``inheritedChildAlias``, pulumi/runtime/resource.py)."""
        own = list(request.aliasURNs)
        parent = self._by_urn.get(request.parent)
        if parent is None:
            return own
        names_types = [(request.name, request.type)] + [(a.split("::")[3], a.split("::")[2].split("$")[-1])
                                                          for a in own]
        inherited = []
        for parent_alias in parent.aliases:
            alias_name = parent_alias.split("::")[3]
            for name, typ in names_types:
                if name.startswith(parent.name):
                    name = alias_name + name[len(parent.name):]
                inherited.append(f"{parent_alias[:parent_alias.rfind('::')]}${typ}::{name}")
        return list(dict.fromkeys(own + inherited))

    def RegisterResource(self, request):
        urn = self.make_urn(request.parent, request.type, request.name)
        inputs = rpc.deserialize_properties(request.object) if request.type != "pulumi:pulumi:Stack" else {}
        registration = Registration(
            urn=urn, type=request.type, name=request.name, parent=request.parent or None,
            custom=bool(request.custom), inputs=inputs, dependencies=list(request.dependencies),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            options={"ignoreChanges": list(request.ignoreChanges),
                     "additionalSecretOutputs": list(request.additionalSecretOutputs),
                     "protect": bool(request.protect) if request.HasField("protect") else False,
                     "deleteBeforeReplace": bool(request.deleteBeforeReplace),
                     "replaceOnChanges": list(request.replaceOnChanges),
                     # ResourceOptions(replacement_trigger=...): a new value replaces the resource.
                     "replacementTrigger": _replacement_trigger(request),
                     # ResourceOptions(replace_with=[...]): replaced whenever one of these is.
                     "replaceWith": list(request.replace_with)},
            provider=request.provider or None, aliases=self._aliases(request))
        self.registrations.append(registration)
        self._by_urn[urn] = registration
        if request.type == "pulumi:pulumi:Stack":
            return super().RegisterResource(request)
        earlier = self._earlier(urn, registration.aliases) if request.custom else None
        name = request.name
        if earlier is not None:
            from tools.plan import forces_replacement
            if forces_replacement(earlier, registration) or self._replaced & set(registration.options["replaceWith"]):
                # A replacement is a new cloud resource: new id, new ARN, as dependents will see.
                name = f"{request.name}-replacement"
                self._replaced.add(urn)
            elif plain_values(earlier.inputs) == plain_values(inputs):
                # Unchanged: the engine keeps what the provider answered before (a "same" step), so
                # outputs such as generated keys stay what they were.
                registration.id, registration.outputs = earlier.id, earlier.outputs
                self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, earlier.id or "",
                                                                                    earlier.outputs)
                return resource_pb2.RegisterResourceResponse(
                    urn=urn, id=earlier.id or "", object=_sync_await(rpc.serialize_properties(earlier.outputs, {})))
        # What MockMonitor.RegisterResource does, keeping the answer, and marking the outputs the
        # engine would mark secret (additionalSecretOutputs). Registrations run concurrently on
        # executor threads: nothing here is shared between them.
        _ensure_event_loop()
        rid, state = self.mocks.new_resource(pulumi_mocks.MockResourceArgs(
            typ=request.type, name=name, inputs=inputs, provider=request.provider,
            resource_id=request.importId, custom=request.custom or False))
        secret_outputs = set(request.additionalSecretOutputs)
        state = {k: (rpc.wrap_rpc_secret(_plain(v)) if k in secret_outputs else v) for k, v in state.items()}
        registration.id, registration.outputs = rid, state
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, rid or "", state)
        return resource_pb2.RegisterResourceResponse(
            urn=urn, id=rid or "", object=_sync_await(rpc.serialize_properties(state, {})))


def _replacement_trigger(request) -> Any:
    """The request's ``replacement_trigger`` option as a Python value (a number, text, list or
    object, secrets still marked), or None when the program set none."""
    if not request.HasField("replacement_trigger"):
        return None
    holder = type(request.object)()  # a google.protobuf Struct, which the SDK knows how to read
    holder.fields["trigger"].CopyFrom(request.replacement_trigger)
    return rpc.deserialize_properties(holder)["trigger"]


def plain_values(value: Any) -> Any:
    """``value`` with every secret marker removed, recursively (what the engine compares)."""
    if rpc.is_rpc_secret(value):
        return plain_values(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: plain_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_values(v) for v in value]
    return value


@dataclass
class RunResult:
    """What one run of a program registered: ``registrations`` in order, ``outputs`` (stack
    outputs, secrets as ``(value, True)``) and the fake cloud's ``invokes``."""

    registrations: list[Registration]
    outputs: dict[str, tuple[Any, bool]]
    invokes: list[tuple[str, dict]] = field(default_factory=list)
    #: The invokes with the provider each was made with (``FakeCloud.calls``).
    calls: list = field(default_factory=list)

    def of_type(self, typ: str) -> list[Registration]:
        """Registrations of one resource type token (``aws:ecs/service:Service``)."""
        return [r for r in self.registrations if r.type == typ]

    def one(self, typ: str) -> Registration:
        """The single registration of ``typ``; raises ``AssertionError`` unless there is one."""
        found = self.of_type(typ)
        assert len(found) == 1, f"expected one {typ}, found {len(found)}"
        return found[0]

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.registrations}


def _no_stack_trace() -> Any:
    return source_pb2.StackTrace()


def run_program(program: Union[Path, Callable[[], None]], config: dict[str, str],
                secret_keys: Optional[set[str]] = None, project: str = "kong-aws",
                stack: str = "test", prior: Optional[RunResult] = None) -> RunResult:
    """Run ``program`` afresh under the mocks with ``config`` (full keys such as
    ``kong-aws:ecs``, JSON text for objects) and return what it registered.

    ``prior``: an earlier run of the same stack, standing for the state the engine holds. A
    resource whose URN (or an alias) and inputs are those of ``prior`` gets the id and outputs it
    had there, as the engine keeps them for an unchanged resource; :func:`tools.plan.plan`
    compares the two runs.

    ``program`` is a path to a Pulumi program file (run as ``__main__``) or a callable that
    declares resources. Exceptions the program raises (e.g. ``pulumi.RunError`` for bad config)
    propagate after the runtime has settled.
    """
    region = config.get("aws:region", "us-east-1")
    cloud = FakeCloud(region)
    monitor = RecordingMonitor(cloud, prior)
    pulumi_settings.ROOT.set(None)
    pulumi.runtime.set_all_config(dict(config), sorted(secret_keys or ()))
    pulumi.runtime.set_mocks(cloud, project=project, stack=stack, preview=False, monitor=monitor)
    root = pulumi_settings.get_root_resource()

    def body() -> None:
        if callable(program):
            program()
        else:
            runpy.run_path(str(program), run_name="__main__")

    # The SDK walks the Python stack of every registration to send the engine a source position
    # (pulumi/runtime/resource.py _get_stack_trace), a fifth of a run's time. Only the engine's
    # diagnostics read it, and nothing here does: under the mocks it is left empty.
    stack_trace = getattr(pulumi_resource_runtime, "_get_stack_trace", None)
    if stack_trace is not None:
        pulumi_resource_runtime._get_stack_trace = _no_stack_trace
    try:
        _sync_await(pulumi.runtime.stack.run_pulumi_func(body))
    finally:
        if stack_trace is not None:
            pulumi_resource_runtime._get_stack_trace = stack_trace

    outputs: dict[str, tuple[Any, bool]] = {}
    for key, value in getattr(root, "outputs", {}).items():
        output = pulumi.Output.from_input(value)
        outputs[key] = (_sync_await(output.future()), bool(_sync_await(output.is_secret())))
    return RunResult(monitor.registrations, outputs, cloud.invokes, cloud.calls)


def mask_secrets(value: Any) -> Any:
    """``value`` with every secret-marked part replaced by :data:`SECRET_MASK`."""
    if rpc.is_rpc_secret(value):
        return SECRET_MASK
    if isinstance(value, dict):
        return {k: mask_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    return value


def main_program() -> Path:
    """The project's Pulumi program (``__main__.py``)."""
    return PROJECT_ROOT / "__main__.py"
