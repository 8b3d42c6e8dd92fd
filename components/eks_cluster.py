"""The Kubernetes cluster of mode hybrid-eks: a new EKS Auto Mode cluster, or an existing one.

Either way the component ends with a Kubernetes provider built from an explicit kubeconfig for
that cluster (never the ambient ``~/.kube/config``), which every Kubernetes object of the stack
uses.

Facts taken from AWS (Amazon EKS User Guide, docs.aws.amazon.com/eks/latest/userguide/):

- auto-cluster-iam-role.html: the cluster role trusts ``eks.amazonaws.com`` with
  ``sts:AssumeRole`` and ``sts:TagSession`` and has AmazonEKSClusterPolicy,
  AmazonEKSComputePolicy, AmazonEKSBlockStoragePolicy, AmazonEKSLoadBalancingPolicy and
  AmazonEKSNetworkingPolicy.
- auto-create-node-role.html: the node role trusts ``ec2.amazonaws.com`` (``sts:AssumeRole``) and
  has AmazonEKSWorkerNodeMinimalPolicy and AmazonEC2ContainerRegistryPullOnly; it may not be the
  cluster role.
- automode-get-started-cli.html: Auto Mode is ``computeConfig`` (enabled, node pools
  ``general-purpose`` and ``system``, the node role), ``kubernetesNetworkConfig.elasticLoadBalancing``
  and ``storageConfig.blockStorage`` enabled together, ``accessConfig.authenticationMode`` ``API``;
  "you must specify the VPC subnets where the nodes will be deployed".
- create-node-class.html: "EKS automatically creates an Access Entry for the Node IAM Role during
  cluster creation" (so this component does not).
- creating-access-entries.html and the CreateAccessEntry API: a principal can be in only one
  access entry; a role ARN may include a path; an STS session ARN cannot be a principal.
- create-storage-class.html: "EKS Auto Mode does not create a StorageClass for you"; the class
  uses provisioner ``ebs.csi.eks.amazonaws.com``.
- auto-configure-nlb.html: Auto Mode's load balancer class is ``eks.amazonaws.com/nlb``;
  tag-subnets-auto.html: load balancer subnets are found by the tags ``kubernetes.io/role/elb``
  (public) and ``kubernetes.io/role/internal-elb`` (private).
"""

import hashlib
import json
import re
from typing import Optional, Required, Sequence, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.package import type_token, with_defaults

#: The managed policies of the Auto Mode cluster role (auto-cluster-iam-role.html).
CLUSTER_ROLE_POLICIES = ("AmazonEKSClusterPolicy", "AmazonEKSComputePolicy", "AmazonEKSBlockStoragePolicy",
                         "AmazonEKSLoadBalancingPolicy", "AmazonEKSNetworkingPolicy")
#: The managed policies of the Auto Mode node role (auto-create-node-role.html).
NODE_ROLE_POLICIES = ("AmazonEKSWorkerNodeMinimalPolicy", "AmazonEC2ContainerRegistryPullOnly")
#: The built-in Auto Mode node pools (automode-get-started-cli.html).
NODE_POOLS = ("general-purpose", "system")
#: Control plane log types sent to CloudWatch Logs (a subset of CreateCluster's LogType enum).
LOG_TYPES = ("api", "audit", "authenticator")
#: The EKS access policy given to the deploying identity and ``adminRoleArns``, cluster-wide.
ADMIN_ACCESS_POLICY = "AmazonEKSClusterAdminPolicy"
#: Auto Mode's block storage provisioner and load balancer class (create-storage-class.html,
#: auto-configure-nlb.html), and the AWS Load Balancer Controller's class, the default for an
#: existing cluster.
AUTO_MODE_PROVISIONER = "ebs.csi.eks.amazonaws.com"
AUTO_MODE_LOAD_BALANCER_CLASS = "eks.amazonaws.com/nlb"
LOAD_BALANCER_CONTROLLER_CLASS = "service.k8s.aws/nlb"
#: The name of the default StorageClass made for a new cluster (the name AWS's example uses).
STORAGE_CLASS_NAME = "auto-ebs-sc"
#: kubeconfig ``exec`` credential plugin API version that ``aws eks get-token`` answers with.
EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"

# CreateCluster's name rule (botocore eks model): 1-100 characters, alphanumeric first.
_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$")
_IAM_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")


def cluster_name_for(project: str, stack: str, name: str) -> str:
    """The EKS cluster name for component ``name`` of ``project``/``stack``:
    ``<project>-<stack>-<name>``, characters EKS refuses replaced by ``-``.

    The name must be known before the cluster exists: the control plane log group
    ``/aws/eks/<cluster name>/cluster`` is created first. Names longer than EKS's 100 characters
    are cut and end in a short hash of the full name, so two stacks never share one.
    """
    full = f"{project}-{stack}-{name}"
    text = re.sub(r"[^A-Za-z0-9_-]", "-", full)
    if not text[0].isalnum():
        text = "k" + text
    if len(text) > 100:
        text = text[:91].rstrip("-_") + "-" + hashlib.sha256(full.encode()).hexdigest()[:8]
    return text


def admin_principals(deployer_arn: str, admin_role_arns: Sequence[str]) -> list[str]:
    """The IAM principals that get cluster admin: the deploying identity first, then
    ``admin_role_arns``, each once (EKS refuses a second access entry for a principal).

    ``deployer_arn`` is the IAM ARN of the identity running ``pulumi up``, already resolved from an
    assumed-role session to its role (``aws.iam.get_session_context``). Raises ``ValueError`` when
    it is not an IAM role or user ARN (an STS federated-user session or the root user), because
    EKS cannot give an access entry to a temporary session.
    """
    if not _IAM_PRINCIPAL.match(deployer_arn):
        raise ValueError(f"the identity running `pulumi up` is {deployer_arn}, not an IAM role or user; "
                         "EKS access entries need one (run as an IAM role, e.g. through SSO or "
                         "`aws sts assume-role`)")
    principals: list[str] = []
    for arn in (deployer_arn, *admin_role_arns):
        if arn not in principals:
            principals.append(arn)
    return principals


def kubeconfig_document(cluster_name: str, endpoint: str, ca_data: str, region: str) -> dict:
    """A kubeconfig (``apiVersion: v1``, ``kind: Config``) for one EKS cluster.

    ``endpoint``: the API server URL; ``ca_data``: the cluster CA, base64 PEM as EKS gives it.
    The user authenticates with ``aws eks get-token --cluster-name <name> --region <region>
    --output json`` (``--output json`` so a CLI configured for text output still works), which
    signs a token with whatever AWS credentials the ``aws`` CLI finds; the CLI must be installed
    where ``pulumi`` runs.
    """
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name,
                      "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "preferences": {},
        "users": [{"name": cluster_name, "user": {"exec": {
            "apiVersion": EXEC_API_VERSION,
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region,
                     "--output", "json"],
        }}}],
    }


def _trust_policy(service: str, actions: object) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": actions}]})


def cluster_role_inline_policy(key_arn: str) -> dict:
    """The cluster role's own policy (IAM policy document): use the secrets encryption key, and
    never create a log group, so that control plane logs only ever go to the group this stack
    manages (otherwise EKS recreates ``/aws/eks/<name>/cluster`` unmanaged while it shuts down).
    Both as terraform-aws-modules/terraform-aws-eks does (main.tf, ``cluster_encryption`` policy and
    the role's ``logs:CreateLogGroup`` deny)."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "SecretsEncryptionKey", "Effect": "Allow",
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"],
         "Resource": key_arn},
        {"Sid": "NoUnmanagedLogGroup", "Effect": "Deny", "Action": ["logs:CreateLogGroup"], "Resource": "*"},
    ]}


class EksSettings(TypedDict, total=False):
    """The cluster as a user chooses it (defaults: :data:`EKS_DEFAULTS`)."""

    cluster_name: str
    """use this existing EKS cluster instead of creating one"""
    version: pulumi.Input[str]
    """new cluster: Kubernetes version, 1.29 or later for Auto Mode (default ``1.33``)"""
    endpoint_public_access: bool
    """new cluster: a public API endpoint besides the private one (default true)"""
    public_access_cidrs: list[str]
    """new cluster: who may reach the public API endpoint (default all)"""
    admin_role_arns: list[str]
    """new cluster: more IAM roles given cluster admin (default none)"""
    log_retention_days: pulumi.Input[int]
    """new cluster: days the control plane logs are kept (default 30)"""
    storage_class_name: str
    """existing cluster: the StorageClass for volumes (default: the cluster's default class)"""
    load_balancer_class: str
    """existing cluster: the proxy Service's load balancer class (default the AWS Load Balancer Controller's)"""


class EksClusterArgs(EksSettings, total=False):
    """Arguments of :class:`EksCluster`: :class:`EksSettings` and where the cluster lives.

    Only the private subnets are given to a new cluster. Auto Mode's default node class places nodes
    in the cluster's subnets (automode-get-started-cli.html; aws/containers-roadmap#2793,
    terraform-aws-modules/terraform-aws-eks#3284), and it cannot be changed later; nodes in a public
    subnet would get a public address or no route out. Internet-facing load balancers do not need
    the public subnets in the cluster: Auto Mode finds them by their ``kubernetes.io/role/elb`` tag
    (tag-subnets-auto.html), or a Service names them with the
    ``service.beta.kubernetes.io/aws-load-balancer-subnets`` annotation.
    """

    region: Required[str]
    """the AWS region (``aws:region``), used in the kubeconfig's ``aws eks get-token``"""
    private_subnet_ids: pulumi.Input[list[str]]
    """new cluster (required then): private subnets in at least two zones, with a route to the internet"""
    new_cluster_name: str
    """new cluster: its EKS name (default :func:`cluster_name_for` of the project, stack and component name)"""


#: Defaults of :class:`EksClusterArgs`, the only place they are written (Kubernetes 1.33; Auto
#: Mode needs 1.29 or later).
EKS_DEFAULTS: EksSettings = {"version": "1.33", "endpoint_public_access": True, "public_access_cidrs": ["0.0.0.0/0"],
                             "admin_role_arns": [], "log_retention_days": 30}


class EksCluster(pulumi.ComponentResource):
    """A Kubernetes cluster and a provider for it (type ``kong-aws:index:EksCluster``).

    New cluster (``config.cluster_name`` None): EKS Auto Mode, named by :func:`cluster_name_for`.
    Children: the cluster role and the node role with their managed policies, the cluster role's
    inline policy (:func:`cluster_role_inline_policy`), a KMS key (rotation on) for envelope
    encryption of Secrets, the control plane log group ``/aws/eks/<cluster name>/cluster``
    (``config.log_retention_days`` days; logs ``api``, ``audit``, ``authenticator``), the cluster
    (private endpoint on; public endpoint and its CIDRs from config; authentication mode ``API``
    without the creator's implicit admin; no self-managed add-ons; standard support), an access
    entry with AmazonEKSClusterAdminPolicy (cluster scope) for the identity running ``pulumi up``
    and for each of ``config.admin_role_arns``, the Kubernetes provider and a default StorageClass
    :data:`STORAGE_CLASS_NAME` (encrypted gp3).

    Existing cluster (``config.cluster_name``): looked up with ``aws.eks.get_cluster``; no AWS
    resource is created and no access is granted (the identity running ``pulumi up`` must already
    be allowed in), only the Kubernetes provider.

    Outputs: ``cluster_name``, ``endpoint``, ``cluster_security_group_id`` (the EKS-made group Auto
    Mode nodes use), ``kubeconfig`` (secret JSON text, :func:`kubeconfig_document`),
    ``storage_class_name`` (:data:`STORAGE_CLASS_NAME`; an existing cluster's
    ``config.storage_class_name``, possibly None) and ``load_balancer_class``
    (:data:`AUTO_MODE_LOAD_BALANCER_CLASS`; an existing cluster's ``config.load_balancer_class``,
    default :data:`LOAD_BALANCER_CONTROLLER_CLASS`). ``provider``: the ``pulumi_kubernetes``
    provider, which waits for the access entries so that its first request is allowed.

    The Kubernetes API must be reachable from where ``pulumi up`` runs: with
    ``endpointPublicAccess`` false or ``publicAccessCidrs`` that exclude it, run from inside the VPC.

    Raises ``ValueError`` before any child is declared when ``storage_class_name`` or
    ``load_balancer_class`` is given for a new cluster or ``admin_role_arns`` for an existing one,
    when a new cluster gets fewer than two private subnets (as a plain list), or when the identity
    running ``pulumi up`` is not an IAM role or user (:func:`admin_principals`).
    """

    cluster_name: pulumi.Output[str]
    """the EKS cluster's name"""
    endpoint: pulumi.Output[str]
    """its API server URL"""
    cluster_security_group_id: pulumi.Output[str]
    """the security group EKS made for the cluster (Auto Mode nodes use it)"""
    kubeconfig: pulumi.Output[str]
    """a kubeconfig for the cluster, JSON (secret)"""
    storage_class_name: pulumi.Output[Optional[str]]
    """the StorageClass for volumes (none: the cluster's default)"""
    load_balancer_class: pulumi.Output[str]
    """the load balancer class of LoadBalancer Services"""
    _ca_data: pulumi.Output[str]

    def __init__(self, name: str, args: EksClusterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        cfg = with_defaults(args, EKS_DEFAULTS)
        existing = cfg.get("cluster_name") is not None
        if existing and cfg["admin_role_arns"]:
            raise ValueError(f"admin_role_arns {list(cfg['admin_role_arns'])} are only used with a new cluster "
                             "(an existing cluster's access entries are its owner's to manage)")
        if not existing:
            for key in ("storage_class_name", "load_balancer_class"):
                if cfg.get(key) is not None:
                    raise ValueError(f"{key} {cfg[key]!r} is only used with an existing cluster "
                                     "(cluster_name); a new cluster uses EKS Auto Mode's")
            subnets = cfg.get("private_subnet_ids")
            if subnets is None or (isinstance(subnets, (list, tuple)) and len(subnets) < 2):
                raise ValueError(f"an EKS cluster needs private subnets in at least two availability zones, "
                                 f"got {subnets}")
        super().__init__(type_token(EksCluster), name, None, opts)

        if existing:
            access = self._existing(cfg)
        else:
            access = self._create(name, cfg)

        self.kubeconfig = pulumi.Output.secret(pulumi.Output.all(
            self.cluster_name, self.endpoint, self._ca_data,
        ).apply(lambda v: json.dumps(kubeconfig_document(v[0], v[1], v[2], cfg["region"]))))
        self.provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=access))

        if existing:
            self.storage_class_name = pulumi.Output.from_input(cfg.get("storage_class_name"))
            lb_class = cfg.get("load_balancer_class") or LOAD_BALANCER_CONTROLLER_CLASS
            self.load_balancer_class = pulumi.Output.from_input(lb_class)
        else:
            self.storage_class_name = self._storage_class(name).metadata.apply(lambda m: m.name)
            self.load_balancer_class = pulumi.Output.from_input(AUTO_MODE_LOAD_BALANCER_CLASS)

        self.register_outputs({
            "clusterName": self.cluster_name,
            "endpoint": self.endpoint,
            "clusterSecurityGroupId": self.cluster_security_group_id,
            "kubeconfig": self.kubeconfig,
            "storageClassName": self.storage_class_name,
            "loadBalancerClass": self.load_balancer_class,
        })

    # --- An existing cluster -----------------------------------------------------------------

    def _existing(self, cfg: dict) -> list[pulumi.Resource]:
        found = aws.eks.get_cluster_output(name=cfg["cluster_name"],
                                           opts=pulumi.InvokeOutputOptions(parent=self))
        self.cluster_name = found.name
        self.endpoint = found.endpoint
        self._ca_data = found.certificate_authorities.apply(lambda cas: cas[0].data)
        self.cluster_security_group_id = found.vpc_config.apply(lambda v: v.cluster_security_group_id)
        return []

    # --- A new EKS Auto Mode cluster -----------------------------------------------------------

    def _create(self, name: str, cfg: dict) -> list[pulumi.Resource]:
        child = pulumi.ResourceOptions(parent=self)
        cluster_name = cfg.get("new_cluster_name") or cluster_name_for(pulumi.get_project(), pulumi.get_stack(), name)

        # Who runs `pulumi up`: an assumed-role session resolves to its IAM role (with its path).
        invoke = pulumi.InvokeOptions(parent=self)
        caller = aws.get_caller_identity(opts=invoke)
        deployer = aws.iam.get_session_context(arn=caller.arn, opts=invoke).issuer_arn
        principals = admin_principals(deployer, cfg["admin_role_arns"])
        partition = caller.arn.split(":")[1]

        def managed(policy: str) -> str:
            return f"arn:{partition}:iam::aws:policy/{policy}"

        cluster_role = aws.iam.Role(
            f"{name}-cluster-role", description=f"EKS Auto Mode cluster role of {cluster_name}",
            assume_role_policy=_trust_policy("eks.amazonaws.com", ["sts:AssumeRole", "sts:TagSession"]),
            opts=child)
        node_role = aws.iam.Role(
            f"{name}-node-role", description=f"EKS Auto Mode node role of {cluster_name}",
            assume_role_policy=_trust_policy("ec2.amazonaws.com", "sts:AssumeRole"),
            opts=child)
        attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-{role_kind}-{policy}", role=role.name,
                                         policy_arn=managed(policy), opts=child)
            for role_kind, role, policies in (("cluster-role", cluster_role, CLUSTER_ROLE_POLICIES),
                                              ("node-role", node_role, NODE_ROLE_POLICIES))
            for policy in policies]

        key = aws.kms.Key(
            f"{name}-secrets-key", description=f"Envelope encryption of Kubernetes Secrets in EKS cluster {cluster_name}",
            key_usage="ENCRYPT_DECRYPT", customer_master_key_spec="SYMMETRIC_DEFAULT",
            enable_key_rotation=True, deletion_window_in_days=30, opts=child)
        role_policy = aws.iam.RolePolicy(
            f"{name}-cluster-role-policy", role=cluster_role.id,
            policy=key.arn.apply(lambda arn: json.dumps(cluster_role_inline_policy(arn))), opts=child)
        # Created before the cluster so that EKS writes into a group with this retention.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs", name=f"/aws/eks/{cluster_name}/cluster",
            retention_in_days=cfg["log_retention_days"], opts=child)

        cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=cluster_name,
            version=cfg["version"],
            role_arn=cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=cfg["private_subnet_ids"],
                endpoint_private_access=True,
                endpoint_public_access=cfg["endpoint_public_access"],
                public_access_cidrs=list(cfg["public_access_cidrs"]) if cfg["endpoint_public_access"] else None),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=False),
            bootstrap_self_managed_addons=False,
            compute_config=aws.eks.ClusterComputeConfigArgs(
                enabled=True, node_pools=list(NODE_POOLS), node_role_arn=node_role.arn),
            kubernetes_network_config=aws.eks.ClusterKubernetesNetworkConfigArgs(
                elastic_load_balancing=aws.eks.ClusterKubernetesNetworkConfigElasticLoadBalancingArgs(enabled=True)),
            storage_config=aws.eks.ClusterStorageConfigArgs(
                block_storage=aws.eks.ClusterStorageConfigBlockStorageArgs(enabled=True)),
            enabled_cluster_log_types=list(LOG_TYPES),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key.arn), resources=["secrets"]),
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, role_policy, *attachments]))

        access: list[pulumi.Resource] = []
        policy_arn = f"arn:{partition}:eks::aws:cluster-access-policy/{ADMIN_ACCESS_POLICY}"
        for principal in principals:
            # Named by the principal, so reordering adminRoleArns or a new deployer that is already
            # an admin role never replaces an entry (a replacement would collide with itself).
            suffix = hashlib.sha256(principal.encode()).hexdigest()[:10]
            entry = aws.eks.AccessEntry(
                f"{name}-access-{suffix}", cluster_name=cluster.name, principal_arn=principal,
                type="STANDARD", opts=child)
            association = aws.eks.AccessPolicyAssociation(
                f"{name}-access-{suffix}", cluster_name=cluster.name, principal_arn=entry.principal_arn,
                policy_arn=policy_arn,
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"), opts=child)
            access += [entry, association]

        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self._ca_data = cluster.certificate_authority.apply(lambda ca: ca.data or "")
        self.cluster_security_group_id = cluster.vpc_config.apply(lambda v: v.cluster_security_group_id or "")
        return access

    def _storage_class(self, name: str) -> k8s.storage.v1.StorageClass:
        """The cluster's default StorageClass (create-storage-class.html): encrypted gp3 EBS volumes
        (the account's default EBS key), made only on Auto Mode nodes, in the zone of the pod that
        first uses them.

        ``reclaimPolicy: Delete``: a volume lives as long as its PersistentVolumeClaim. The only
        stateful workload here is the development PostgreSQL (production uses RDS with backups);
        a StatefulSet's claims already outlive the StatefulSet and a Helm uninstall, so data goes
        only when someone deletes the claim, while ``Retain`` would leave billed EBS volumes that
        no tool of this stack knows about after every teardown.
        """
        return k8s.storage.v1.StorageClass(
            f"{name}-storage-class",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=STORAGE_CLASS_NAME,
                annotations={"storageclass.kubernetes.io/is-default-class": "true"}),
            provisioner=AUTO_MODE_PROVISIONER,
            parameters={"type": "gp3", "encrypted": "true"},
            volume_binding_mode="WaitForFirstConsumer",
            reclaim_policy="Delete",
            allowed_topologies=[k8s.core.v1.TopologySelectorTermArgs(match_label_expressions=[
                k8s.core.v1.TopologySelectorLabelRequirementArgs(
                    key="eks.amazonaws.com/compute-type", values=["auto"])])],
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider))
