"""The control plane's PostgreSQL: Amazon RDS for PostgreSQL, or a StatefulSet in the cluster.

Kong's Helm chart bundles a bitnami PostgreSQL subchart, but the bitnami images it used moved to a
frozen legacy repository (../shared/reference/kong-chart-values.yaml, ``postgresql.image``), so the
chart runs with ``postgresql.enabled: false`` and this component provides the database instead.

Both modes make the ``kong`` user's password with ``pulumi_random`` (a Pulumi secret from the start)
and store it in the Kubernetes Secret ``kong-postgres`` (key ``password``) in Kong's namespace. The
chart reads it through ``env.pg_password.valueFrom.secretKeyRef``, so the password never appears in
Helm values, and it is never an output in the clear.

With RDS, Kong can verify the server's certificate: the RDS certificate authorities are vendored in
``components/data/rds-ca-bundle.pem`` (its header says where they come from) and the component puts
them in the ConfigMap ``kong-postgres-ca`` (key ``ca.crt``) in Kong's namespace.
"""

import enum
import functools
import hashlib
import json
import re
import types
from importlib import resources
from typing import Any, Optional, Required, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.package import type_token, with_defaults

class PostgresMode(str, enum.Enum):
    """Where the control plane's database runs: Amazon RDS, or a StatefulSet in the cluster (development)."""

    RDS = "rds"
    IN_CLUSTER = "in-cluster"


#: Defaults of :class:`PostgresArgs`, the only place they are written.
POSTGRES_DEFAULTS: dict = {"client_pod_labels": {"app.kubernetes.io/instance": "kong-cp"}, "mode": PostgresMode.RDS, "version": "17.6", "instance_class": "db.t4g.medium",
                     "allocated_storage_gib": 20, "multi_az": True, "backup_retention_days": 7,
                     "deletion_protection": True, "apply_immediately": False, "storage_gib": 20,
                     "log_retention_days": 30, "source_security_group_ids": []}

DATABASE = "kong"
USER = "kong"
PORT = 5432
#: The Kubernetes Secret that holds the ``kong`` user's password, and its key.
PASSWORD_SECRET_NAME = "kong-postgres"
PASSWORD_SECRET_KEY = "password"
#: The in-cluster Service and StatefulSet.
SERVICE_NAME = "kong-postgres"
#: Alphanumeric only: nothing to quote in a libpq connection string or a URL, and none of the
#: characters RDS refuses in a master password ("/", '"', "@"; botocore's RDS model,
#: CreateDBInstance MasterUserPassword, which allows 8-128 characters for PostgreSQL).
#: 32 characters of [A-Za-z0-9] carry about 190 bits.
PASSWORD_LENGTH = 32

#: The CA of the RDS server certificate (AWS, "Using SSL/TLS to encrypt a connection to a DB
#: instance", certificate authorities rds-ca-rsa2048-g1, rds-ca-rsa4096-g1, rds-ca-ecc384-g1).
RDS_CA_CERT_IDENTIFIER = "rds-ca-rsa2048-g1"
#: Storage autoscaling ceiling: this many times ``allocatedStorageGiB``.
STORAGE_AUTOSCALING_FACTOR = 4
#: The vendored RDS certificate authorities, a file of the ``components`` package.
RDS_CA_BUNDLE_FILE = "data/rds-ca-bundle.pem"
#: The ConfigMap (mode rds, in Kong's namespace) that holds :func:`rds_ca_bundle_pem`, and its key:
#: mount it into Kong and name the file in ``lua_ssl_trusted_certificate``.
CA_CONFIG_MAP_NAME = "kong-postgres-ca"
CA_CONFIG_MAP_KEY = "ca.crt"
#: How the subject CN of a region's root ends for each RDS CA identifier: "Amazon RDS <region>
#: Root CA RSA2048 G1" (AWS, "Using SSL/TLS to encrypt a connection to a DB instance or cluster",
#: certificate authorities and bundles by Region; the CNs as the vendored certificates have them).
RDS_CA_ROOT_SUFFIX = {"rds-ca-rsa2048-g1": "RSA2048 G1", "rds-ca-rsa4096-g1": "RSA4096 G1",
                      "rds-ca-ecc384-g1": "ECC384 G1"}
#: Regions of :data:`components.aws_facts.AVAILABILITY_ZONES` whose RDS CAs AWS's global bundle has
#: but the vendored file does not (the npm package it was taken from predates them; see the file's
#: header). A database there is reached with TLS but without verification (:attr:`Postgres.ssl_verify`).
RDS_CA_NOT_VENDORED_REGIONS = frozenset({"ca-west-1", "mx-central-1", "il-central-1", "ap-east-2", "ap-southeast-5",
                                         "ap-southeast-6", "ap-southeast-7"})
#: The logs the instance exports to CloudWatch Logs (RDS for PostgreSQL offers ``postgresql`` and
#: ``upgrade``: botocore's RDS model, CreateDBInstance ``EnableCloudwatchLogsExports``).
RDS_LOG_EXPORTS = ("postgresql",)
#: A security group id as EC2 makes them: ``sg-`` and 8 or 17 hex digits.
SECURITY_GROUP_ID = re.compile(r"sg-(?:[0-9a-f]{8}|[0-9a-f]{17})")
#: A DB instance identifier RDS accepts and keeps as given: 1-63 lowercase letters, digits or
#: hyphens, a letter first, no hyphen last, no two in a row (botocore's RDS model,
#: CreateDBInstance ``DBInstanceIdentifier``; RDS stores it lowercased).
DB_INSTANCE_IDENTIFIER = re.compile(r"[a-z](?!.*--)[a-z0-9-]{0,62}(?<!-)")
#: RDS parameter that refuses connections without TLS (AWS, "Using SSL with a PostgreSQL DB
#: instance", section "Requiring an SSL connection to a PostgreSQL DB instance").
FORCE_SSL_PARAMETER = "rds.force_ssl"

#: The Docker Official Image ``postgres`` (github.com/docker-library/postgres). Its Debian
#: variants (the plain ``<version>`` tags) create the ``postgres`` user and group with id 999.
IMAGE_REPOSITORY = "postgres"
POSTGRES_UID = 999
#: The pods allowed to reach the in-cluster database unless the caller says otherwise.
DEFAULT_CLIENT_POD_LABELS = POSTGRES_DEFAULTS["client_pod_labels"]
READINESS_COMMAND = ["pg_isready", "-U", USER, "-d", DATABASE]
#: Container resources of the in-cluster database (requests and limits).
RESOURCES = {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}


def parameter_group_family(major_version: str) -> str:
    """The RDS DB parameter group family of a PostgreSQL major version: ``postgres<major>``
    (``postgres17`` for ``17``). Source: RDS API reference, CreateDBParameterGroup /
    CreateDBClusterParameterGroup ``DBParameterGroupFamily`` ("RDS for PostgreSQL Example:
    postgres13"); ``aws rds describe-db-engine-versions --engine postgres`` lists them."""
    if not major_version.isdecimal():
        raise ValueError(f"not a PostgreSQL major version: {major_version!r}")
    return f"postgres{major_version}"


@functools.lru_cache(maxsize=1)
def _rds_ca_file_text() -> str:
    return resources.files("components").joinpath(RDS_CA_BUNDLE_FILE).read_text(encoding="ascii")


@functools.lru_cache(maxsize=1)
def rds_ca_bundle_pem() -> str:
    """The vendored RDS certificate authorities (``components/data/rds-ca-bundle.pem``) as PEM
    text: the ``CERTIFICATE`` blocks only, in the file's order, each ending in a newline, without the
    file's comments. What the ConfigMap :data:`CA_CONFIG_MAP_NAME` holds. Raises ``ValueError`` when
    the file has no certificate (a broken install)."""
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----\n.*?\n-----END CERTIFICATE-----\n", _rds_ca_file_text(), re.S)
    if not blocks:
        raise ValueError(f"components/{RDS_CA_BUNDLE_FILE} holds no certificate")
    return "".join(blocks)


@functools.lru_cache(maxsize=None)
def rds_ca_regions(ca_identifier: str = RDS_CA_CERT_IDENTIFIER) -> frozenset[str]:
    """The regions whose root of RDS CA ``ca_identifier`` (default :data:`RDS_CA_CERT_IDENTIFIER`)
    is in the vendored bundle, read from the certificates' subject CNs ("Amazon RDS us-east-1 Root CA
    RSA2048 G1"). Raises ``KeyError`` for an identifier not in :data:`RDS_CA_ROOT_SUFFIX`."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    pattern = re.compile(rf"Amazon RDS ([a-z]{{2}}(?:-[a-z]+)+-[0-9]+) Root CA {RDS_CA_ROOT_SUFFIX[ca_identifier]}")
    found = set()
    for cert in x509.load_pem_x509_certificates(rds_ca_bundle_pem().encode()):
        for attribute in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
            match = pattern.fullmatch(str(attribute.value))
            if match:
                found.add(match.group(1))
    return frozenset(found)


def rds_instance_identifier(project: str, stack: str, name: str) -> str:
    """The identifier of an RDS instance the stack creates: ``<project>-<stack>-<name>`` lowercased
    with every run of other characters made one hyphen, ``kong-`` in front unless it starts with a
    letter, valid for :data:`DB_INSTANCE_IDENTIFIER`. Longer than 63 characters, it is cut to 54 and
    ends in ``-`` and 8 hex digits of the SHA-256 of the whole, so that two long names still differ."""
    text = re.sub(r"[^a-z0-9]+", "-", f"{project}-{stack}-{name}".lower()).strip("-")
    if not text[:1].isalpha():
        text = f"kong-{text}"
    if len(text) > 63:
        text = text[:54].rstrip("-") + "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return text


def rds_log_group_name(instance_identifier: str, log: str = "postgresql") -> str:
    """The CloudWatch Logs group RDS publishes log ``log`` of an instance to:
    ``/aws/rds/instance/<identifier>/<log>`` (Amazon RDS User Guide, "Publishing PostgreSQL logs to
    Amazon CloudWatch Logs": "the PostgreSQL log data is stored within the log group
    /aws/rds/instance/my_instance/postgresql")."""
    return f"/aws/rds/instance/{instance_identifier}/{log}"


def pod_selector(name: str) -> dict[str, str]:
    """The labels that select the in-cluster database's pod of the :class:`Postgres` named ``name``
    (``app.kubernetes.io/name: postgresql``, ``app.kubernetes.io/instance: <name>``): the
    StatefulSet's and the Service's selector, and what a NetworkPolicy around the pod selects."""
    return {"app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": name}


def data_layout(major_version: str) -> tuple[str, str]:
    """Where the in-cluster volume is mounted and where ``PGDATA`` lives, as
    ``(mount_path, pgdata)``, for the official image of ``major_version``.

    - 17 and below: mount at ``/var/lib/postgresql/data`` (the image's VOLUME) with ``PGDATA`` in a
      subdirectory ``pgdata``, because ``initdb`` refuses a mount point that holds ``lost+found``.
    - 18 and above: mount at ``/var/lib/postgresql`` with ``PGDATA`` ``/var/lib/postgresql/<major>/docker``
      (the image's default); the 18+ entrypoint refuses to start when ``/var/lib/postgresql/data``
      is a mount.

    Source: the image's documentation, section ``PGDATA`` (github.com/docker-library/docs,
    postgres/content.md) and docker-library/postgres pull request 1259.
    """
    if int(major_version) >= 18:
        return "/var/lib/postgresql", f"/var/lib/postgresql/{major_version}/docker"
    return "/var/lib/postgresql/data", "/var/lib/postgresql/data/pgdata"


#: The RDS instance's inputs that AWS cannot change in place, as the instance is declared:
#: terraform-provider-aws (internal/service/rds/instance.go) marks ``engine``, ``storage_encrypted``,
#: ``kms_key_id``, ``db_name`` and ``username`` ``ForceNew``, so a new value replaces the instance. They
#: also name its final snapshot (:func:`instance_generation`).
INSTANCE_IDENTITY: dict[str, Any] = {"engine": "postgres", "storage_encrypted": True, "db_name": DATABASE,
                                     "username": USER}


def instance_generation(identity: dict[str, Any]) -> str:
    """8 hex digits that change whenever a value of ``identity`` (:data:`INSTANCE_IDENTITY`)
    changes, that is whenever the instance is replaced."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:8]


def final_snapshot_identifier(project: str, stack: str, name: str, generation: str = "") -> str:
    """The RDS final snapshot's identifier, ``<project>-<stack>-<name>-final[-<generation>]`` made
    valid: letters, digits and single hyphens, a letter first, no hyphen last, at most 255
    characters (RDS API reference, DeleteDBInstance ``FinalDBSnapshotIdentifier``); a long name is
    cut before the generation, which stays.

    ``generation`` (:func:`instance_generation`) makes each instance's snapshot its own: a
    replaced instance leaves ``...-final-<old generation>`` and its successor will leave another, so
    the successor's deletion does not fail on ``DBSnapshotAlreadyExists``. The same stack destroyed
    and created again gets the same identifier: delete or rename the old snapshot first.
    """
    suffix = f"-{generation}" if generation else ""
    text = re.sub(r"[^a-z0-9]+", "-", f"{project}-{stack}-{name}-final".lower()).strip("-")
    if not text[:1].isalpha():
        text = f"kong-{text}"
    return text[:255 - len(suffix)].rstrip("-") + suffix


class PostgresSettings(TypedDict, total=False):
    """The database as a user chooses it (defaults: :data:`POSTGRES_DEFAULTS`)."""

    mode: PostgresMode
    """``rds`` (default) or ``in-cluster`` (development)"""
    version: str
    """PostgreSQL release (default ``17.6``; RDS uses its major version and takes minor upgrades)"""
    instance_class: pulumi.Input[str]
    """RDS instance class (default ``db.t4g.medium``)"""
    allocated_storage_gib: int
    """RDS storage in GiB, growing automatically up to 4x (default 20)"""
    multi_az: pulumi.Input[bool]
    """RDS Multi-AZ (default true)"""
    backup_retention_days: pulumi.Input[int]
    """RDS automated backups, 1-35 days (default 7)"""
    deletion_protection: pulumi.Input[bool]
    """RDS deletion protection (default true)"""
    apply_immediately: pulumi.Input[bool]
    """RDS: apply modifications now (true) or in the weekly maintenance window (default false)"""
    storage_gib: int
    """in-cluster volume size in GiB (default 20)"""
    log_retention_days: pulumi.Input[int]
    """RDS: days CloudWatch Logs keeps the exported ``postgresql`` log (default 30; one of the values
    CloudWatch Logs accepts, 1-3653)"""
    source_security_group_ids: list[str]
    """RDS: more security groups whose members may reach the database on 5432, besides the cluster
    security group (default none): the groups of an existing cluster's nodes that do not use it"""


class PostgresArgs(PostgresSettings, total=False):
    """Arguments of :class:`Postgres`: :class:`PostgresSettings` and where the database lives.

    The Kubernetes provider reaches the component through ``opts`` (``providers``).
    """

    namespace: Required[pulumi.Input[str]]
    """the Kubernetes namespace of Kong, where the password Secret (and in-cluster, the database) live"""
    storage_class_name: pulumi.Input[Optional[str]]
    """in-cluster: the StorageClass of the data volume (default: the cluster's default)"""
    vpc_id: pulumi.Input[str]
    """RDS (required then): the VPC"""
    private_subnet_ids: pulumi.Input[list[str]]
    """RDS (required then): private subnets in at least two zones for the DB subnet group"""
    cluster_security_group_id: pulumi.Input[str]
    """RDS (required then): the EKS cluster security group, allowed to reach the database (with
    ``source_security_group_ids``)"""
    client_pod_labels: dict[str, str]
    """in-cluster: labels of the pods the NetworkPolicy admits (default ``app.kubernetes.io/instance: kong-cp``)"""
    node_selector: pulumi.Input[dict[str, str]]
    """in-cluster: the database pod's nodeSelector (default none): nodes that enforce its NetworkPolicies"""
    image_source_ready: pulumi.Input[str]
    """resolves once the images can be pulled (:attr:`components.image_source.ImageSource.ready`):
    what pulls is declared after it"""
    image_repository: str
    """in-cluster: the repository of the ``postgres`` image (default :data:`IMAGE_REPOSITORY`; an ECR pull
    through cache's, :func:`components.image_source.pulled_repository`)"""


class Postgres(pulumi.ComponentResource):
    """PostgreSQL for the Kong control plane (type ``kong-aws:index:Postgres``).

    Always: a ``random.RandomPassword`` (32 alphanumeric characters, secret) and the Kubernetes
    Secret ``kong-postgres`` (type Opaque, key ``password``) in ``namespace``.

    Mode ``rds`` (config ``mode``): a DB subnet group on the private subnets; a security group that
    admits TCP 5432 from the EKS cluster security group and from each of ``source_security_group_ids``
    only, one ingress rule per group named after the group's id (``<name>-access-from-<sg id>``, so
    that the order of the list changes nothing; the cluster's rule keeps ``<name>-access-from-cluster``).
    No egress rule: the AWS provider removes the default allow-all egress of a new group, and the
    database dials out to nothing. A parameter group of family ``postgres<major>`` with
    ``rds.force_ssl`` = 1; the CloudWatch Logs group ``/aws/rds/instance/<identifier>/postgresql``
    (:func:`rds_log_group_name`) keeping ``log_retention_days`` days; the ConfigMap
    :data:`CA_CONFIG_MAP_NAME` (key :data:`CA_CONFIG_MAP_KEY`, :func:`rds_ca_bundle_pem`) in
    ``namespace``; and the instance:
    engine ``postgres``, engine version the major version (RDS takes the newest minor and applies
    minor upgrades, ``auto_minor_version_upgrade``), gp3 storage encrypted at rest with storage
    autoscaling up to 4x, Multi-AZ / backup retention / deletion protection from config, private,
    TLS required with CA ``rds-ca-rsa2048-g1``, Performance Insights, PostgreSQL logs exported to
    CloudWatch, tags copied to snapshots and a final snapshot on delete (identifier from
    :func:`final_snapshot_identifier`; delete an old snapshot of that name before destroying a
    re-created stack).

    When RDS changes take effect (``apply_immediately``, default false): without ApplyImmediately,
    ModifyDBInstance applies a modification "during the next maintenance window" (RDS API
    reference, ModifyDBInstance; botocore's RDS model carries the same text per parameter: a new
    instance class or engine version "results in an outage" / "an outage occurs", a Multi-AZ change
    does not, and all three wait for the window). The default keeps such a restart out of business
    hours; the weekly window is RDS's choice (no ``maintenance_window`` is set). Until the window
    has passed, the provider reads the old value and each preview shows the change again
    (Terraform's aws_db_instance documentation, ``apply_immediately``). The password, a backup
    retention change between non-zero values and the parameter group's name apply at once either
    way. A new major ``version`` is allowed (``allow_major_version_upgrade``) and needs the new
    family's parameter group in the same request (ModifyDBInstance ``EngineVersion``): give that
    change ``apply_immediately`` true (whether RDS accepts it queued for the window was not checked).

    Replacement: a new :data:`INSTANCE_IDENTITY` value replaces the instance, delete-before-replace:
    with deletion protection on (the default) the old instance's deletion is refused before
    anything else changed; with it off, the old instance is deleted, leaving its final snapshot,
    before an empty new one is created (created first, it would start empty while Kong still ran
    on the old one, and be what Kong is pointed at). Restore from that snapshot. The instance
    subnet group and parameter group are auto-named by Pulumi, and the instance identifier is free
    again once the old instance is gone, so none of them clashes.

    The log group and the instance identifier. RDS creates the group of an exported log itself,
    without retention, as soon as the instance starts logging, and a group that already exists
    makes CreateLogGroup fail (``ResourceAlreadyExistsException``). So the stack creates the group
    first and the instance after it, which needs the identifier before the instance exists: a new
    instance is created with the identifier :func:`rds_instance_identifier`
    (``<project>-<stack>-<name>``), no longer one Pulumi makes up. Both names are fixed once
    created (``ignore_changes`` on the instance's ``identifier`` and the group's ``name``): a renamed
    stack or project, or a new naming rule, changes neither, so the group is never replaced (which
    would delete it with its events) and the instance never renamed (an update that moves its
    endpoint and reboots it: ModifyDBInstance ``NewDBInstanceIdentifier``).

    Day 2, a stack whose instance was made before the stack owned its log group: the instance keeps
    its identifier (Pulumi's ``<name>-instance-<7 hex>``), and RDS made its group. Import that group
    into the stack before the first ``pulumi up`` with this code (docs/runbooks.md, section 7);
    thanks to ``ignore_changes`` the imported name stands and ``up`` only sets the retention. An
    ``up`` without the import creates an empty group under the new default name, which RDS never
    writes to, and RDS's own group stays unmanaged, without retention (the runbook undoes that).

    Mode ``in-cluster`` (for development): a ClusterIP Service and a one-replica StatefulSet of
    the Docker Official Image ``postgres:<version>`` with its data on a ReadWriteOnce PVC of
    ``storageGiB`` Gi. Not bitnami: Kong's chart bundled bitnami's image, which is frozen in a legacy
    repository without updates; the official image is rebuilt by Docker's official-images program
    for every PostgreSQL release and base image fix. The pod runs as the image's ``postgres`` user
    (999) with no privileges, the password comes from the Secret by ``secretKeyRef``, and a
    NetworkPolicy admits 5432 only from ``client_pod_labels`` pods (enforced only where the cluster's
    network plugin enforces NetworkPolicy). No TLS in-cluster. The image initialises the database
    on the first start only: a new password later does not change the database's password, and a
    new major ``version`` needs ``pg_upgrade`` (the data directory is per major version).

    Outputs: ``host`` (the RDS address, or ``kong-postgres.<namespace>.svc.cluster.local``),
    ``port`` (5432), ``database`` and ``user`` (``kong``), ``password_secret_name`` and
    ``password_secret_key`` (the Secret and its key), ``ssl`` and ``ssl_required`` (True with RDS,
    False in-cluster: Kong's ``pg_ssl`` and ``pg_ssl_required``), ``ssl_verify`` (Kong's
    ``pg_ssl_verify``: True with RDS in a region whose CA the vendored bundle has, which is every
    region of :mod:`components.aws_facts` but :data:`RDS_CA_NOT_VENDORED_REGIONS`, read from the
    instance's ARN; False elsewhere, with a warning, and in-cluster, where the server has no TLS),
    ``ca_config_map_name`` and ``ca_config_map_key`` (the ConfigMap with the RDS CAs and its key;
    None in-cluster), and ``password`` (a secret). Kong verifies against
    ``lua_ssl_trusted_certificate``, so with ``ssl_verify`` mount the ConfigMap and list the file there.

    Raises ``ValueError`` before declaring anything when mode ``rds`` lacks ``vpc_id``,
    ``private_subnet_ids`` or ``cluster_security_group_id``, when a ``source_security_group_ids``
    entry is not a security group id (``sg-`` and 8 or 17 hex digits, as text) or comes twice, or
    when ``client_pod_labels`` is empty in mode ``in-cluster``.
    """

    host: pulumi.Output[str]
    """the database host"""
    port: pulumi.Output[int]
    """its port (5432)"""
    database: pulumi.Output[str]
    """the database name (kong)"""
    user: pulumi.Output[str]
    """the user Kong connects as (kong)"""
    password_secret_name: pulumi.Output[str]
    """the Kubernetes Secret holding the password"""
    password_secret_key: pulumi.Output[str]
    """its key"""
    ssl: pulumi.Output[bool]
    """Kong's pg_ssl"""
    ssl_required: pulumi.Output[bool]
    """whether the server refuses plain connections"""
    password: pulumi.Output[str]
    """the password (secret)"""
    ssl_verify: pulumi.Output[bool]
    """Kong's pg_ssl_verify: whether the server certificate can be verified with the ConfigMap's CAs"""
    ca_config_map_name: pulumi.Output[Optional[str]]
    """the ConfigMap holding the RDS CAs (None in-cluster)"""
    ca_config_map_key: pulumi.Output[Optional[str]]
    """its key, a PEM file (None in-cluster)"""
    rds_instance_identifier: Optional[pulumi.Output[str]]
    """the RDS instance's identifier, CloudWatch's ``DBInstanceIdentifier`` (None in-cluster)"""
    rds_allocated_storage_gib: Optional[int]
    """the storage the RDS instance was given, GiB (None in-cluster)"""

    def __init__(self, name: str, args: PostgresArgs, opts: Optional[pulumi.ResourceOptions] = None):
        settings = with_defaults(args, POSTGRES_DEFAULTS)
        cfg = types.SimpleNamespace(**{**dict.fromkeys(PostgresArgs.__annotations__), **settings})
        cfg.major_version = str(settings["version"]).split(".")[0]
        cfg.mode = PostgresMode(cfg.mode)
        if cfg.mode is PostgresMode.RDS:
            missing = [key for key in ("vpc_id", "private_subnet_ids", "cluster_security_group_id")
                       if getattr(cfg, key) is None]
            if missing:
                raise ValueError(f"Postgres {name!r}: mode rds needs {', '.join(missing)}")
            problems = [f"source_security_group_ids[{i}] is {group!r}, not a security group id (sg-<8 or 17 hex>)"
                        for i, group in enumerate(cfg.source_security_group_ids)
                        if not (isinstance(group, str) and SECURITY_GROUP_ID.fullmatch(group))]
            groups = list(cfg.source_security_group_ids)
            problems += [f"source_security_group_ids names {group!r} twice"
                         for group in sorted({g for g in groups if isinstance(g, str) and groups.count(g) > 1})]
            if problems:
                raise ValueError(f"Postgres {name!r}: " + "; ".join(problems))
        elif not cfg.client_pod_labels:
            # An empty pod selector would admit every pod in the namespace.
            raise ValueError(f"Postgres {name!r}: client_pod_labels must name the Kong control plane pods")

        super().__init__(type_token(Postgres), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        in_cluster = pulumi.ResourceOptions(parent=self)
        labels = {**pod_selector(name), "app.kubernetes.io/part-of": "kong", "app.kubernetes.io/managed-by": "pulumi"}

        generated = random.RandomPassword(f"{name}-password", length=PASSWORD_LENGTH, special=False,
                                          opts=child)
        password: pulumi.Output[str] = pulumi.Output.secret(generated.result)
        secret = k8s.core.v1.Secret(
            f"{name}-password-secret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=PASSWORD_SECRET_NAME, namespace=cfg.namespace,
                                                labels=labels),
            type="Opaque",
            string_data={PASSWORD_SECRET_KEY: password},
            opts=in_cluster)
        secret_name = secret.metadata.apply(lambda m: m.name or PASSWORD_SECRET_NAME)

        self.rds_instance_identifier, self.rds_allocated_storage_gib = None, None
        ca_name: pulumi.Output[Optional[str]] = pulumi.Output.from_input(None)
        ca_key: pulumi.Output[Optional[str]] = pulumi.Output.from_input(None)
        if cfg.mode is PostgresMode.RDS:
            host, port, ssl_verify = self._rds(name, cfg, password, child)
            ssl = True
            bundle = k8s.core.v1.ConfigMap(
                f"{name}-ca",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=CA_CONFIG_MAP_NAME, namespace=cfg.namespace, labels=labels),
                data={CA_CONFIG_MAP_KEY: rds_ca_bundle_pem()},
                opts=in_cluster)
            ca_name = bundle.metadata.apply(lambda m: m.name or CA_CONFIG_MAP_NAME)
            ca_key = pulumi.Output.from_input(CA_CONFIG_MAP_KEY)
        else:
            host = self._in_cluster(name, cfg, secret_name, labels, in_cluster)
            port = pulumi.Output.from_input(PORT)
            ssl = False
            ssl_verify = pulumi.Output.from_input(False)

        self.host = host
        self.port = port
        self.database = pulumi.Output.from_input(DATABASE)
        self.user = pulumi.Output.from_input(USER)
        self.password_secret_name = secret_name
        self.password_secret_key = pulumi.Output.from_input(PASSWORD_SECRET_KEY)
        self.ssl = pulumi.Output.from_input(ssl)
        self.ssl_required = pulumi.Output.from_input(ssl)
        self.password = password
        self.ssl_verify = ssl_verify
        self.ca_config_map_name = ca_name
        self.ca_config_map_key = ca_key
        self.register_outputs({
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "user": self.user,
            "passwordSecretName": self.password_secret_name,
            "passwordSecretKey": self.password_secret_key,
            "ssl": self.ssl,
            "sslRequired": self.ssl_required,
            "password": self.password,
            "sslVerify": self.ssl_verify,
            "caConfigMapName": self.ca_config_map_name,
            "caConfigMapKey": self.ca_config_map_key,
        })

    def _rds(self, name: str, args: types.SimpleNamespace, password: pulumi.Output[str],
             child: pulumi.ResourceOptions) -> tuple[pulumi.Output[str], pulumi.Output[int], pulumi.Output[bool]]:
        cfg = args
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets", subnet_ids=args.private_subnet_ids,
            description="Kong control plane PostgreSQL: private subnets", opts=child)
        # The description stays as first written: a new one replaces the group (and the instance
        # moves to the new group).
        security_group = aws.ec2.SecurityGroup(
            f"{name}-access", vpc_id=args.vpc_id,
            description="Kong control plane PostgreSQL: inbound 5432 only from the EKS cluster",
            tags={"Name": f"{name}-access"}, opts=child)
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-access-from-cluster", security_group_id=security_group.id, ip_protocol="tcp",
            from_port=PORT, to_port=PORT, referenced_security_group_id=args.cluster_security_group_id,
            description="PostgreSQL from the EKS cluster security group", opts=child)
        for group_id in cfg.source_security_group_ids:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-access-from-{group_id}", security_group_id=security_group.id, ip_protocol="tcp",
                from_port=PORT, to_port=PORT, referenced_security_group_id=group_id,
                description=f"PostgreSQL from security group {group_id}", opts=child)
        parameters = aws.rds.ParameterGroup(
            f"{name}-parameters", family=parameter_group_family(cfg.major_version),
            description="Kong control plane PostgreSQL: TLS required",
            parameters=[aws.rds.ParameterGroupParameterArgs(name=FORCE_SSL_PARAMETER, value="1")],
            opts=child)
        identifier = rds_instance_identifier(pulumi.get_project(), pulumi.get_stack(), name)
        (log,) = RDS_LOG_EXPORTS
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=rds_log_group_name(identifier, log), retention_in_days=cfg.log_retention_days,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(ignore_changes=["name"])))
        identity = dict(INSTANCE_IDENTITY)
        instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=identifier,
            engine=identity["engine"],
            engine_version=cfg.major_version,
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=True,
            apply_immediately=cfg.apply_immediately,
            instance_class=cfg.instance_class,
            allocated_storage=cfg.allocated_storage_gib,
            max_allocated_storage=cfg.allocated_storage_gib * STORAGE_AUTOSCALING_FACTOR,
            # Without storage_type the provider picks gp2.
            storage_type="gp3",
            storage_encrypted=identity["storage_encrypted"],
            multi_az=cfg.multi_az,
            backup_retention_period=cfg.backup_retention_days,
            deletion_protection=cfg.deletion_protection,
            publicly_accessible=False,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[security_group.id],
            parameter_group_name=parameters.name,
            port=PORT,
            db_name=identity["db_name"],
            username=identity["username"],
            password=password,
            ca_cert_identifier=RDS_CA_CERT_IDENTIFIER,
            copy_tags_to_snapshot=True,
            skip_final_snapshot=False,
            final_snapshot_identifier=final_snapshot_identifier(
                pulumi.get_project(), pulumi.get_stack(), name, instance_generation(identity)),
            performance_insights_enabled=True,
            enabled_cloudwatch_logs_exports=list(RDS_LOG_EXPORTS),
            tags={"Name": name},
            # The group exists before RDS could make one; an instance keeps the identifier it has.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                delete_before_replace=True, ignore_changes=["identifier"], depends_on=[log_group])))

        covered = rds_ca_regions(RDS_CA_CERT_IDENTIFIER)

        def verifiable(arn: str) -> bool:
            region = arn.split(":")[3]
            if region not in covered:
                pulumi.log.warn(f"the RDS CAs of {region} are not in components/{RDS_CA_BUNDLE_FILE}: Kong reaches "
                                "the database over TLS without verifying its certificate", resource=self)
            return region in covered

        self.rds_instance_identifier = instance.identifier
        self.rds_allocated_storage_gib = int(cfg.allocated_storage_gib)
        return instance.address, instance.port, instance.arn.apply(verifiable)

    def _in_cluster(self, name: str, args: types.SimpleNamespace, secret_name: pulumi.Output[str],
                    labels: dict[str, str], in_cluster: pulumi.ResourceOptions) -> pulumi.Output[str]:
        cfg = args
        selector = pod_selector(name)
        mount_path, pgdata = data_layout(cfg.major_version)

        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SERVICE_NAME, namespace=args.namespace, labels=labels),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP", selector=selector,
                ports=[k8s.core.v1.ServicePortArgs(name="postgres", port=PORT, target_port="postgres",
                                                   protocol="TCP")]),
            opts=in_cluster)
        service_name = service.metadata.apply(lambda m: m.name or SERVICE_NAME)

        probe: dict[str, Any] = dict(exec_=k8s.core.v1.ExecActionArgs(command=READINESS_COMMAND), timeout_seconds=5)
        container = k8s.core.v1.ContainerArgs(
            name="postgres",
            # Declared once the image source is ready (its value is waited for, not used).
            image=pulumi.Output.from_input(cfg.image_source_ready or "").apply(
                lambda _: f"{IMAGE_REPOSITORY if cfg.image_repository is None else cfg.image_repository}:{cfg.version}"),
            image_pull_policy="IfNotPresent",
            ports=[k8s.core.v1.ContainerPortArgs(name="postgres", container_port=PORT, protocol="TCP")],
            env=[
                k8s.core.v1.EnvVarArgs(name="POSTGRES_USER", value=USER),
                k8s.core.v1.EnvVarArgs(name="POSTGRES_DB", value=DATABASE),
                k8s.core.v1.EnvVarArgs(name="POSTGRES_PASSWORD", value_from=k8s.core.v1.EnvVarSourceArgs(
                    secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret_name, key=PASSWORD_SECRET_KEY))),
                k8s.core.v1.EnvVarArgs(name="PGDATA", value=pgdata),
            ],
            volume_mounts=[k8s.core.v1.VolumeMountArgs(name="data", mount_path=mount_path)],
            readiness_probe=k8s.core.v1.ProbeArgs(**probe, initial_delay_seconds=5, period_seconds=10,
                                                  failure_threshold=3),
            liveness_probe=k8s.core.v1.ProbeArgs(**probe, initial_delay_seconds=30, period_seconds=10,
                                                 failure_threshold=6),
            resources=k8s.core.v1.ResourceRequirementsArgs(requests=RESOURCES["requests"], limits=RESOURCES["limits"]),
            security_context=k8s.core.v1.SecurityContextArgs(
                allow_privilege_escalation=False, privileged=False,
                capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"])))

        k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SERVICE_NAME, namespace=args.namespace, labels=labels),
            spec=k8s.apps.v1.StatefulSetSpecArgs(
                service_name=service_name,
                replicas=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                # Keep the data when the StatefulSet is deleted or scaled down.
                persistent_volume_claim_retention_policy=k8s.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicyArgs(
                    when_deleted="Retain", when_scaled="Retain"),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        node_selector=cfg.node_selector,
                        automount_service_account_token=False,
                        enable_service_links=False,
                        # The image stops PostgreSQL with a fast shutdown; give it time to flush.
                        termination_grace_period_seconds=60,
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_non_root=True, run_as_user=POSTGRES_UID, run_as_group=POSTGRES_UID,
                            fs_group=POSTGRES_UID, fs_group_change_policy="OnRootMismatch",
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault")),
                        containers=[container])),
                volume_claim_templates=[k8s.core.v1.PersistentVolumeClaimArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(name="data", labels=selector),
                    spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                        access_modes=["ReadWriteOnce"],
                        storage_class_name=args.storage_class_name,
                        resources=k8s.core.v1.VolumeResourceRequirementsArgs(
                            requests={"storage": f"{cfg.storage_gib}Gi"})))]),
            opts=in_cluster)

        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SERVICE_NAME, namespace=args.namespace, labels=labels),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                policy_types=["Ingress"],
                ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=[k8s.networking.v1.NetworkPolicyPeerArgs(
                        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(args.client_pod_labels)))],
                    ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=PORT)])]),
            opts=in_cluster)

        return pulumi.Output.concat(service_name, ".", args.namespace, ".svc.cluster.local")
