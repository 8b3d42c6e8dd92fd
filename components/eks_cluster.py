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
- access-policy-permissions.html: AmazonEKSClusterAdminPolicy is cluster admin;
  AmazonEKSAdminViewPolicy lists and views every resource, "this includes Kubernetes Secrets";
  AmazonEKSViewPolicy views most resources but not Secrets (as Kubernetes' ``view`` role).
- create-storage-class.html: "EKS Auto Mode does not create a StorageClass for you"; the class
  uses provisioner ``ebs.csi.eks.amazonaws.com``.
- auto-net-pol.html: Auto Mode enforces NetworkPolicy only once the ConfigMap ``amazon-vpc-cni``
  in ``kube-system`` says ``enable-network-policy-controller: "true"`` and the nodes come from a
  NodeClass with ``networkPolicy`` set, through a NodePool that uses it; create-node-class.html and
  create-node-pool.html give the NodeClass (``eks.amazonaws.com/v1``: ``role``,
  ``subnetSelectorTerms``, ``securityGroupSelectorTerms``) and NodePool (``karpenter.sh/v1``,
  ``nodeClassRef``, requirements on ``eks.amazonaws.com/instance-category`` and
  ``-instance-generation``) fields used here; a NodeClass with the cluster's own node role needs no
  access entry of its own (EKS made one for that role with the cluster).
- metrics-server.html: the Kubernetes Metrics Server, which the HorizontalPodAutoscaler reads, "isn't
  deployed by default"; it is the EKS add-on ``metrics-server``.
- auto-configure-nlb.html: Auto Mode's load balancer class is ``eks.amazonaws.com/nlb``;
  tag-subnets-auto.html: load balancer subnets are found by the tags ``kubernetes.io/role/elb``
  (public) and ``kubernetes.io/role/internal-elb`` (private).
- pod-id-role.html: a role for EKS Pod Identity trusts ``pods.eks.amazonaws.com`` with
  ``sts:AssumeRole`` and ``sts:TagSession``. pod-id-agent-setup.html: the EKS Pod Identity Agent
  is built into Auto Mode; other clusters get it from the EKS add-on ``eks-pod-identity-agent``.

And from the Amazon CloudWatch User Guide (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/),
install-CloudWatch-Observability-EKS-addon.html: the EKS add-on ``amazon-cloudwatch-observability``
turns on Container Insights with enhanced observability and Application Signals by default, and
runs Fluent Bit, which sends every container's logs to CloudWatch Logs; from add-on version 3.1.0
its permissions can come from EKS Pod Identity, an association for the service account
``cloudwatch-agent`` with a role that has the managed policy CloudWatchAgentServerPolicy (section
"Option 1"); ``{"containerLogs": {"enabled": false}}`` opts out of the logs ("Opt out of
collecting container logs"); a custom ``agent.config`` replaces the default agent configuration,
whose Container Insights part is ``logs.metrics_collected.kubernetes.enhanced_container_insights:
true`` ("Use a custom CloudWatch agent configuration").
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
#: The EKS access policy of ``adminRoleArns`` (the roles that run ``pulumi up``), cluster-wide.
ADMIN_ACCESS_POLICY = "AmazonEKSClusterAdminPolicy"
#: The EKS access policy of ``previewRoleArns`` (the roles that run ``pulumi preview``), cluster-wide:
#: read-only, Secrets included. Helm keeps each release's record in a Secret of type
#: ``helm.sh/release.v1`` in the release's namespace (Helm docs, "Storage backends"), and the
#: Kubernetes provider reads it to preview a Helm release; AmazonEKSViewPolicy leaves Secrets out
#: (access-policy-permissions.html). Read-only has a limit: a preview that changes a plain Kubernetes
#: object (not a Helm release) asks the API server for a server-side dry-run apply, which Kubernetes
#: authorizes like the real ``patch`` (Kubernetes API concepts, "Dry-run authorization"; Pulumi's
#: Kubernetes provider guide "Managing resources with Server-Side Apply", prerequisites), so that
#: preview is refused. The Secrets it can read are the stack's own, which the same job can already
#: decrypt from the stack's state with its Pulumi token.
PREVIEW_ACCESS_POLICY = "AmazonEKSAdminViewPolicy"
#: Auto Mode's block storage provisioner and load balancer class (create-storage-class.html,
#: auto-configure-nlb.html), and the AWS Load Balancer Controller's class, the default for an
#: existing cluster.
AUTO_MODE_PROVISIONER = "ebs.csi.eks.amazonaws.com"
AUTO_MODE_LOAD_BALANCER_CLASS = "eks.amazonaws.com/nlb"
LOAD_BALANCER_CONTROLLER_CLASS = "service.k8s.aws/nlb"
#: The name of the default StorageClass made for a new cluster (the name AWS's example uses).
STORAGE_CLASS_NAME = "auto-ebs-sc"
#: The NodeClass and NodePool a new cluster runs Kong's pods on: network policy enforced
#: (auto-net-pol.html). Kong's pods select the pool by Karpenter's node label.
NODE_POOL = "kong"
NODE_POOL_LABEL = "karpenter.sh/nodepool"
#: The EKS add-on that installs the Kubernetes Metrics Server (metrics-server.html).
METRICS_SERVER_ADDON = "metrics-server"
#: The EKS add-on of Container Insights with enhanced observability, the service account its
#: CloudWatch agent runs as, and the managed policy that agent needs
#: (install-CloudWatch-Observability-EKS-addon.html). The add-on's Helm chart gives its Fluent Bit
#: and every agent it runs that same account (aws-observability/helm-charts,
#: charts/amazon-cloudwatch-observability/templates/_helpers.tpl, ``cloudwatch-agent.serviceAccountName``).
CONTAINER_INSIGHTS_ADDON = "amazon-cloudwatch-observability"
CONTAINER_INSIGHTS_SERVICE_ACCOUNT = "cloudwatch-agent"
CONTAINER_INSIGHTS_POLICY = "CloudWatchAgentServerPolicy"
#: The add-on's configuration values (see :meth:`EksCluster._container_insights`).
CONTAINER_INSIGHTS_CONFIGURATION = {
    "agent": {"config": {"logs": {"metrics_collected": {"kubernetes": {"enhanced_container_insights": True}}}}},
    "containerLogs": {"enabled": False},
}
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


#: An example admin role ARN for error messages.
EXAMPLE_ROLE_ARN = "arn:aws:iam::123456789012:role/kong-aws-deploy"


def admin_principals(admin_role_arns: Sequence[str]) -> list[str]:
    """The IAM principals that get cluster admin: ``admin_role_arns`` in order, each once (EKS
    refuses a second access entry for a principal). Nothing is derived from the identity running
    Pulumi, so a preview or an ``up`` under another role plans the same access entries.

    Raises ``ValueError`` when the list is empty (a new cluster would have no administrator: the
    cluster is created without the creator's implicit admin) or an item is not an IAM role or user
    ARN (an STS session ARN or the root user cannot be an access entry's principal).
    """
    if not admin_role_arns:
        raise ValueError(f"admin_role_arns is empty: a new cluster needs the IAM role(s) that run `pulumi up` "
                         f"as its administrators, e.g. [{EXAMPLE_ROLE_ARN!r}] (config kong-aws:eks.adminRoleArns); "
                         "nothing is derived from whoever runs Pulumi")
    principals: list[str] = []
    for arn in admin_role_arns:
        if not _IAM_PRINCIPAL.match(arn):
            raise ValueError(f"{arn} is not an IAM role or user ARN; EKS access entries need one (the role, "
                             f"e.g. {EXAMPLE_ROLE_ARN}, not an assumed-role session)")
        if arn not in principals:
            principals.append(arn)
    return principals


def access_entries(admin_role_arns: Sequence[str], preview_role_arns: Sequence[str] = ()) -> list[tuple[str, str]]:
    """``(principal ARN, access policy name)`` of every access entry of a new cluster: each admin
    role with :data:`ADMIN_ACCESS_POLICY`, then each preview role with :data:`PREVIEW_ACCESS_POLICY`.

    Raises ``ValueError`` as :func:`admin_principals` does, when a preview role is not an IAM role
    or user ARN, or when a role is both an admin and a preview role (one access entry per principal).
    """
    admins = admin_principals(admin_role_arns)
    entries = [(arn, ADMIN_ACCESS_POLICY) for arn in admins]
    for arn in preview_role_arns:
        if not _IAM_PRINCIPAL.match(arn):
            raise ValueError(f"preview role {arn} is not an IAM role or user ARN")
        if arn in admins:
            raise ValueError(f"{arn} is both an admin and a preview role; EKS gives a principal one access entry "
                             "(an admin can preview already)")
        if (arn, PREVIEW_ACCESS_POLICY) not in entries:
            entries.append((arn, PREVIEW_ACCESS_POLICY))
    return entries


def cli_identity(profile: Optional[str], assume_roles: Optional[str]) -> dict[str, str]:
    """The identity ``aws eks get-token`` must sign with to be the AWS provider's principal, from
    the provider's config ``aws:profile`` and ``aws:assumeRoles`` (JSON text, a list of
    ``{roleArn, sessionName, externalId, ...}``, pulumi-aws ``config.AssumeRoles``).

    Returns :class:`EksClusterArgs` fields: ``aws_profile`` when a profile is set, ``aws_role_arn``
    when one role is assumed. ``aws eks get-token`` assumes a role with ``--role-arn`` only (AWS CLI
    reference, ``eks get-token``: no session name, external ID or chain); EKS maps a session to its
    role, so a ``sessionName`` (like ``duration``, ``policy`` and ``tags``) changes nothing Kubernetes
    sees and is not passed. Raises ``ValueError`` (naming the key) for what the CLI cannot
    reproduce: an ``externalId``, or more than one role (a chain), where the kubeconfig would sign
    as another principal than the provider; put such a role in an AWS CLI profile
    (``role_arn``, ``external_id``, ``source_profile`` in ``~/.aws/config``) and set ``aws:profile``.
    """
    identity: dict[str, str] = {}
    if profile:
        identity["aws_profile"] = profile
    if not assume_roles:
        return identity
    hint = ("; the kubeconfig's `aws eks get-token` can only pass --role-arn: put the role in an AWS CLI profile "
            "(role_arn, external_id, source_profile in ~/.aws/config) and set aws:profile instead")
    try:
        roles = json.loads(assume_roles)
    except ValueError:
        raise ValueError(f"aws:assumeRoles: not JSON: {assume_roles[:80]!r}") from None
    if isinstance(roles, dict):
        roles = [roles]
    if not isinstance(roles, list) or not all(isinstance(r, dict) for r in roles):
        raise ValueError("aws:assumeRoles: expected a list of {roleArn, ...} objects")
    if len(roles) > 1:
        raise ValueError(f"aws:assumeRoles: a chain of {len(roles)} roles{hint}")
    if roles:
        role = roles[0]
        if role.get("externalId"):
            raise ValueError(f"aws:assumeRoles[0].externalId is set{hint}")
        arn = role.get("roleArn")
        if not isinstance(arn, str) or not _IAM_PRINCIPAL.match(arn):
            raise ValueError(f"aws:assumeRoles[0].roleArn: got {arn!r}; an IAM role ARN such as {EXAMPLE_ROLE_ARN}")
        identity["aws_role_arn"] = arn
    return identity


def provider_identity() -> dict[str, str]:
    """:func:`cli_identity` of the stack's default AWS provider (config ``aws:profile`` and
    ``aws:assumeRoles``, the keys that provider reads). Not followed: static keys in config
    (``aws:accessKey``) and ``aws:assumeRoleWithWebIdentity``; give such a stack a profile."""
    config = pulumi.Config("aws")
    return cli_identity(config.get("profile"), config.get("assumeRoles"))


def kubeconfig_document(cluster_name: str, endpoint: str, ca_data: str, region: str,
                        profile: Optional[str] = None, role_arn: Optional[str] = None) -> dict:
    """A kubeconfig (``apiVersion: v1``, ``kind: Config``) for one EKS cluster.

    ``endpoint``: the API server URL; ``ca_data``: the cluster CA, base64 PEM as EKS gives it.
    The user authenticates with ``aws eks get-token --cluster-name <name> --region <region>
    --output json`` (``--output json`` so a CLI configured for text output still works); the CLI
    must be installed where ``pulumi`` runs. To sign as the AWS provider's principal
    (:func:`cli_identity`): ``role_arn`` adds ``--role-arn <arn>``; ``profile`` adds ``--profile
    <name>`` and the environment ``AWS_PROFILE=<name>``. ``--profile`` because it is what makes the
    CLI prefer the profile to keys in the environment (botocore credentials.py: an explicitly given
    profile removes the environment provider), as the provider's ``profile`` setting comes before
    environment variables; ``AWS_PROFILE`` so that a ``credential_process`` or SSO helper the
    profile starts sees the same profile. Without either, the CLI signs with whatever credentials
    it finds, as the provider does.
    """
    args = ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"]
    if role_arn:
        args += ["--role-arn", role_arn]
    if profile:
        args += ["--profile", profile]
    exec_: dict = {"apiVersion": EXEC_API_VERSION, "command": "aws", "args": args}
    if profile:
        exec_["env"] = [{"name": "AWS_PROFILE", "value": profile}]
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name,
                      "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "preferences": {},
        "users": [{"name": cluster_name, "user": {"exec": exec_}}],
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
    """new cluster (required then): the IAM roles that run ``pulumi up``, given cluster admin"""
    preview_role_arns: list[str]
    """new cluster: IAM roles that run ``pulumi preview``, given read-only access (default none)"""
    log_retention_days: pulumi.Input[int]
    """new cluster: days the control plane logs are kept (default 30)"""
    storage_class_name: str
    """existing cluster: the StorageClass for volumes (default: the cluster's default class)"""
    load_balancer_class: str
    """existing cluster: the proxy Service's load balancer class (default the AWS Load Balancer Controller's)"""
    metrics_server: bool
    """install the EKS add-on ``metrics-server``, which the HorizontalPodAutoscaler needs (default: true for a
    new cluster; false for an existing one, whose owner may run it already)"""
    container_insights: bool
    """install the EKS add-on ``amazon-cloudwatch-observability`` (Container Insights with enhanced observability:
    the pod metrics of the stack's dashboard and alarms) with its IAM role (default: true for a new cluster; false
    for an existing one, whose owner may run it already; there it also needs the EKS Pod Identity Agent)"""


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
    aws_profile: str
    """the AWS CLI profile the kubeconfig's ``aws eks get-token`` signs with (the AWS provider's ``profile``)"""
    aws_role_arn: str
    """an IAM role ``aws eks get-token`` assumes first (the AWS provider's one ``assumeRoles`` role)"""
    node_role_policy: str
    """new cluster: an inline policy of the Auto Mode node role, IAM policy JSON (default none); hybrid-eks
    gives :func:`components.image_source.import_statement` so nodes can fill an ECR pull through cache"""


#: Defaults of :class:`EksClusterArgs`, the only place they are written (Kubernetes 1.33; Auto
#: Mode needs 1.29 or later).
EKS_DEFAULTS: EksSettings = {"version": "1.33", "endpoint_public_access": True, "public_access_cidrs": ["0.0.0.0/0"],
                             "admin_role_arns": [], "preview_role_arns": [], "log_retention_days": 30}


class EksCluster(pulumi.ComponentResource):
    """A Kubernetes cluster and a provider for it (type ``kong-aws:index:EksCluster``).

    New cluster (``config.cluster_name`` None): EKS Auto Mode, named by :func:`cluster_name_for`.
    Children: the cluster role and the node role with their managed policies, the cluster role's
    inline policy (:func:`cluster_role_inline_policy`), a KMS key (rotation on) for envelope
    encryption of Secrets, the control plane log group ``/aws/eks/<cluster name>/cluster``
    (``config.log_retention_days`` days; logs ``api``, ``audit``, ``authenticator``), the cluster
    (private endpoint on; public endpoint and its CIDRs from config; authentication mode ``API``
    without the creator's implicit admin; no self-managed add-ons; standard support), access
    entries (:func:`access_entries`, cluster scope): AmazonEKSClusterAdminPolicy for each of
    ``config.admin_role_arns`` and :data:`PREVIEW_ACCESS_POLICY` for each of
    ``config.preview_role_arns``; nothing is derived from the identity running Pulumi. Then the
    Kubernetes provider and a default StorageClass :data:`STORAGE_CLASS_NAME` (encrypted gp3).

    Replacements. The cluster has a fixed name (the control plane log group is named after it
    before it exists), so it is replaced delete-before-replace: EKS refuses a second cluster of the
    same name ("ResourceInUseException: Cluster already exists with name", as
    terraform-provider-aws's waitClusterDeleted notes). What forces it: a new cluster role or name,
    ``bootstrapSelfManagedAddons`` or ``accessConfig.bootstrapClusterCreatorAdminPermissions``
    (terraform-provider-aws internal/service/eks/cluster.go, ``ForceNew``), and a new secrets
    encryption key: EKS cannot change a cluster's key and the provider would plan an update that
    does nothing (cluster.go only associates a first encryption config), so the component asks for
    a replacement (``replace_on_changes``). Access entries and policy associations are identified by
    (cluster, principal[, policy]), so they are delete-before-replace too: a replacement created
    first would meet "already exists", or be undone by the old association's removal.

    Existing cluster (``config.cluster_name``): looked up with ``aws.eks.get_cluster``; no AWS
    resource is created and no access is granted (the roles that run Pulumi must already be
    allowed in), only the Kubernetes provider.

    The kubeconfig signs as the AWS provider's principal: ``aws_profile`` and ``aws_role_arn``
    (:func:`cli_identity`) reach ``aws eks get-token`` (:func:`kubeconfig_document`).

    Outputs: ``cluster_name``, ``endpoint``, ``cluster_security_group_id`` (the EKS-made group Auto
    Mode nodes use), ``kubeconfig`` (secret JSON text, :func:`kubeconfig_document`),
    ``storage_class_name`` (:data:`STORAGE_CLASS_NAME`; an existing cluster's
    ``config.storage_class_name``, possibly None) and ``load_balancer_class``
    (:data:`AUTO_MODE_LOAD_BALANCER_CLASS`; an existing cluster's ``config.load_balancer_class``,
    default :data:`LOAD_BALANCER_CONTROLLER_CLASS`), ``vpc_id`` and ``subnet_ids`` (the cluster's
    network: an existing cluster supplies the stack's), ``pod_node_selector`` (see
    :meth:`_network_policy_nodes`), ``container_insights`` (a plain bool: whether the Container
    Insights add-on is installed, so the ``ContainerInsights`` pod metrics will exist). ``provider``:
    the ``pulumi_kubernetes`` provider, which waits for the access entries so that its first
    request is allowed.

    Add-ons: ``metrics-server`` (``config.metrics_server``) and ``amazon-cloudwatch-observability``
    with its role (``config.container_insights``, :meth:`_container_insights`), each on by default
    for a new cluster and off for an existing one. A new cluster also gets network policy
    enforcement for Kong's pods (:meth:`_network_policy_nodes`).

    The Kubernetes API must be reachable from where ``pulumi up`` runs: with
    ``endpointPublicAccess`` false or ``publicAccessCidrs`` that exclude it, run from inside the VPC.

    Raises ``ValueError`` before any child is declared when ``storage_class_name`` or
    ``load_balancer_class`` is given for a new cluster or ``admin_role_arns`` /
    ``preview_role_arns`` for an existing one, when a new cluster gets fewer than two private
    subnets (as a plain list), and when a new cluster has no admin role or a role that is not an
    IAM role or user, or one role in both lists (:func:`access_entries`).
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
    vpc_id: pulumi.Output[str]
    """the cluster's VPC"""
    subnet_ids: pulumi.Output[list[str]]
    """the cluster's subnets (a new cluster: the private subnets it was given)"""
    pod_node_selector: pulumi.Output[dict[str, str]]
    """the node selector of pods that need network policy enforced (a new cluster: the :data:`NODE_POOL`
    pool; an existing cluster: none, its own nodes)"""
    container_insights: bool
    """whether this stack installs Container Insights with enhanced observability on the cluster (known before
    anything is declared, so a dashboard can decide its widgets without waiting on an output)"""
    _ca_data: pulumi.Output[str]
    _partition: pulumi.Output[str]
    _cluster_label: str

    def __init__(self, name: str, args: EksClusterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        cfg = with_defaults(args, EKS_DEFAULTS)
        existing = cfg.get("cluster_name") is not None
        for key in ("admin_role_arns", "preview_role_arns"):
            if existing and cfg[key]:
                raise ValueError(f"{key} {list(cfg[key])} are only used with a new cluster "
                                 "(an existing cluster's access entries are its owner's to manage)")
        if not existing:
            cfg["access_entries"] = access_entries(cfg["admin_role_arns"], cfg["preview_role_arns"])
            for key in ("storage_class_name", "load_balancer_class"):
                if cfg.get(key) is not None:
                    raise ValueError(f"{key} {cfg[key]!r} is only used with an existing cluster "
                                     "(cluster_name); a new cluster uses EKS Auto Mode's")
            subnets = cfg.get("private_subnet_ids")
            if subnets is None or (isinstance(subnets, (list, tuple)) and len(subnets) < 2):
                raise ValueError(f"an EKS cluster needs private subnets in at least two availability zones, "
                                 f"got {subnets}")
        if existing and cfg.get("node_role_policy") is not None:
            raise ValueError("node_role_policy is only used with a new cluster (an existing cluster's node role "
                             "is its owner's to manage)")
        super().__init__(type_token(EksCluster), name, None, opts)

        if existing:
            access = self._existing(cfg)
        else:
            access = self._create(name, cfg)

        self.kubeconfig = pulumi.Output.secret(pulumi.Output.all(
            self.cluster_name, self.endpoint, self._ca_data,
        ).apply(lambda v: json.dumps(kubeconfig_document(v[0], v[1], v[2], cfg["region"], cfg.get("aws_profile"),
                                                         cfg.get("aws_role_arn")))))
        self.provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=access))

        if existing:
            self.storage_class_name = pulumi.Output.from_input(cfg.get("storage_class_name"))
            lb_class = cfg.get("load_balancer_class") or LOAD_BALANCER_CONTROLLER_CLASS
            self.load_balancer_class = pulumi.Output.from_input(lb_class)
            self.pod_node_selector = pulumi.Output.from_input({})
        else:
            self.storage_class_name = self._storage_class(name).metadata.apply(lambda m: m.name)
            self.load_balancer_class = pulumi.Output.from_input(AUTO_MODE_LOAD_BALANCER_CLASS)
            self.pod_node_selector = self._network_policy_nodes(name, cfg)
        metrics_server = cfg.get("metrics_server")
        if metrics_server if metrics_server is not None else not existing:
            # Created with resolveConflicts NONE: on a cluster that runs a Metrics Server of its own
            # the add-on fails with a conflict instead of taking it over.
            aws.eks.Addon(f"{name}-metrics-server", cluster_name=self.cluster_name, addon_name=METRICS_SERVER_ADDON,
                          resolve_conflicts_on_create="NONE", resolve_conflicts_on_update="PRESERVE",
                          opts=pulumi.ResourceOptions(parent=self, depends_on=access))
        container_insights = cfg.get("container_insights")
        self.container_insights = container_insights if container_insights is not None else not existing
        if self.container_insights:
            self._container_insights(name, access)

        self.register_outputs({
            "clusterName": self.cluster_name,
            "endpoint": self.endpoint,
            "clusterSecurityGroupId": self.cluster_security_group_id,
            "kubeconfig": self.kubeconfig,
            "storageClassName": self.storage_class_name,
            "loadBalancerClass": self.load_balancer_class,
            "vpcId": self.vpc_id,
            "subnetIds": self.subnet_ids,
            "podNodeSelector": self.pod_node_selector,
            "containerInsights": self.container_insights,
        })

    # --- An existing cluster -----------------------------------------------------------------

    def _existing(self, cfg: dict) -> list[pulumi.Resource]:
        found = aws.eks.get_cluster_output(name=cfg["cluster_name"],
                                           opts=pulumi.InvokeOutputOptions(parent=self))
        self.cluster_name = found.name
        self.endpoint = found.endpoint
        self._ca_data = found.certificate_authorities.apply(lambda cas: cas[0].data)
        self.cluster_security_group_id = found.vpc_config.apply(lambda v: v.cluster_security_group_id)
        self.vpc_id = found.vpc_config.apply(lambda v: v.vpc_id)
        self.subnet_ids = found.vpc_config.apply(lambda v: sorted(v.subnet_ids))
        self._partition = found.arn.apply(lambda arn: arn.split(":")[1])
        self._cluster_label = cfg["cluster_name"]
        return []

    # --- A new EKS Auto Mode cluster -----------------------------------------------------------

    def _create(self, name: str, cfg: dict) -> list[pulumi.Resource]:
        child = pulumi.ResourceOptions(parent=self)
        cluster_name = cfg.get("new_cluster_name") or cluster_name_for(pulumi.get_project(), pulumi.get_stack(), name)

        # The account's partition (aws, aws-cn, aws-us-gov) from the admin roles' ARNs.
        partition = cfg["access_entries"][0][0].split(":")[1]

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
            # Fixed name: delete first. A new key must replace the cluster (see the class docstring).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, role_policy, *attachments],
                                        delete_before_replace=True, replace_on_changes=["encryptionConfig"]))

        access: list[pulumi.Resource] = []
        by_identity = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        for principal, access_policy in cfg["access_entries"]:
            # Named by the principal, so reordering the role lists never replaces an entry.
            suffix = hashlib.sha256(principal.encode()).hexdigest()[:10]
            entry = aws.eks.AccessEntry(
                f"{name}-access-{suffix}", cluster_name=cluster.name, principal_arn=principal,
                type="STANDARD", opts=by_identity)
            association = aws.eks.AccessPolicyAssociation(
                f"{name}-access-{suffix}", cluster_name=cluster.name, principal_arn=entry.principal_arn,
                policy_arn=f"arn:{partition}:eks::aws:cluster-access-policy/{access_policy}",
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"), opts=by_identity)
            access += [entry, association]

        if cfg.get("node_role_policy") is not None:
            # Before any pod: the Kubernetes provider waits for what this method returns.
            access.append(aws.iam.RolePolicy(f"{name}-node-role-policy", role=node_role.id,
                                             policy=cfg["node_role_policy"], opts=child))

        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self._ca_data = cluster.certificate_authority.apply(lambda ca: ca.data or "")
        self.cluster_security_group_id = cluster.vpc_config.apply(lambda v: v.cluster_security_group_id or "")
        self.vpc_id = cluster.vpc_config.apply(lambda v: v.vpc_id or "")
        self.subnet_ids = pulumi.Output.from_input(cfg["private_subnet_ids"])
        self._node_role_name = node_role.name
        self._partition = pulumi.Output.from_input(partition)
        self._cluster_label = cluster_name
        return access

    def _container_insights(self, name: str, access: list[pulumi.Resource]) -> None:
        """Container Insights with enhanced observability: the EKS add-on
        :data:`CONTAINER_INSIGHTS_ADDON`, whose CloudWatch agent publishes the ``ContainerInsights``
        metrics the dashboard and alarms read (pod CPU and memory, ready and desired replicas), and
        its permissions through EKS Pod Identity (install-CloudWatch-Observability-EKS-addon.html,
        "Option 1"): a role trusted by ``pods.eks.amazonaws.com`` (``sts:AssumeRole``,
        ``sts:TagSession``; pod-id-role.html) with :data:`CONTAINER_INSIGHTS_POLICY` (ARN in the
        cluster's partition), bound by the add-on to the service account
        :data:`CONTAINER_INSIGHTS_SERVICE_ACCOUNT`. Not the node role: that would give every pod on
        the nodes the agent's permissions.

        Configuration (:data:`CONTAINER_INSIGHTS_CONFIGURATION`): the agent's configuration is
        written out with ``enhanced_container_insights: true``, which is the add-on's default, so
        that the metrics this stack alarms on stay on whatever a later add-on version defaults to
        (the page says a custom ``agent.config`` replaces the default one); Application Signals,
        also in the default, is left out (nothing here is instrumented for it). Container logs are
        off (``containerLogs.enabled: false``): Fluent Bit would send every container's stdout and
        stderr to ``/aws/containerinsights/<cluster>/application`` (and node logs to ``/dataplane``
        and ``/host``), groups it creates itself (the chart's Fluent Bit outputs set
        ``auto_create_group``; aws-observability/helm-charts, amazon-cloudwatch-observability
        values.yaml) and that no tool of this stack knows about, so their events never expire
        (CloudWatch Logs API, CreateLogGroup: "by default the log events in the log group do not
        expire") while every GB is billed to ingest and to store. Kong's own logs stay where
        Kubernetes keeps them (``kubectl logs``); a team that wants them in CloudWatch can ship
        them with a retention.

        Created with resolveConflicts NONE (fails rather than take over a CloudWatch agent someone
        installed with the Helm chart) and PRESERVE on update, as ``metrics-server``; after the
        access entries and the policy attachment, so the agent has its permissions when it starts.
        The add-on needs the EKS Pod Identity Agent on the nodes: built into Auto Mode; an existing
        cluster without it needs the ``eks-pod-identity-agent`` add-on (pod-id-agent-setup.html),
        or the agent gets no credentials and publishes nothing.
        """
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-container-insights-role",
            description=f"CloudWatch agent (Container Insights) of EKS cluster {self._cluster_label}",
            assume_role_policy=_trust_policy("pods.eks.amazonaws.com", ["sts:AssumeRole", "sts:TagSession"]),
            opts=child)
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-container-insights-role-{CONTAINER_INSIGHTS_POLICY}", role=role.name,
            policy_arn=self._partition.apply(lambda part: f"arn:{part}:iam::aws:policy/{CONTAINER_INSIGHTS_POLICY}"),
            opts=child)
        aws.eks.Addon(
            f"{name}-container-insights", cluster_name=self.cluster_name, addon_name=CONTAINER_INSIGHTS_ADDON,
            configuration_values=json.dumps(CONTAINER_INSIGHTS_CONFIGURATION, sort_keys=True),
            pod_identity_associations=[aws.eks.AddonPodIdentityAssociationArgs(
                role_arn=role.arn, service_account=CONTAINER_INSIGHTS_SERVICE_ACCOUNT)],
            resolve_conflicts_on_create="NONE", resolve_conflicts_on_update="PRESERVE",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*access, attachment]))

    def _network_policy_nodes(self, name: str, cfg: dict) -> pulumi.Output[dict]:
        """Network policy on Auto Mode (auto-net-pol.html): the VPC CNI's ConfigMap turns the
        controller on; NodeClass and NodePool :data:`NODE_POOL` make nodes that enforce policies
        (``networkPolicy: DefaultAllow``: pods no policy selects keep all traffic). Returns the node
        selector of Kong's pods, which names the pool once it exists.

        The NodeClass puts nodes where the built-in one does: the cluster's subnets and security
        group, with the cluster's node role. The pool takes what the built-in ``general-purpose``
        pool takes (set-builtin-node-pools.html): on-demand instances of the c, m and r families,
        generation 5 or later, amd64 only, so an image built for one platform keeps running where
        it ran; it consolidates nodes that are empty or underused, which respects
        PodDisruptionBudgets.
        """
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=self.provider)
        controller = k8s.core.v1.ConfigMap(
            f"{name}-network-policy-controller",
            metadata={"name": "amazon-vpc-cni", "namespace": "kube-system"},
            data={"enable-network-policy-controller": "true"}, opts=k8s_opts)
        node_class = k8s.apiextensions.CustomResource(
            f"{name}-node-class", api_version="eks.amazonaws.com/v1", kind="NodeClass",
            metadata={"name": NODE_POOL},
            spec={"role": self._node_role_name,
                  "subnetSelectorTerms": pulumi.Output.from_input(cfg["private_subnet_ids"]).apply(
                      lambda ids: [{"id": subnet} for subnet in ids]),
                  "securityGroupSelectorTerms": [{"id": self.cluster_security_group_id}],
                  "networkPolicy": "DefaultAllow", "networkPolicyEventLogs": "Disabled"},
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[controller]))
        pool = k8s.apiextensions.CustomResource(
            f"{name}-node-pool", api_version="karpenter.sh/v1", kind="NodePool",
            metadata={"name": NODE_POOL},
            spec={"template": {"spec": {
                      "nodeClassRef": {"group": "eks.amazonaws.com", "kind": "NodeClass", "name": NODE_POOL},
                      "requirements": [
                          {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
                          {"key": "eks.amazonaws.com/instance-category", "operator": "In", "values": ["c", "m", "r"]},
                          {"key": "eks.amazonaws.com/instance-generation", "operator": "Gt", "values": ["4"]},
                          {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}},
                  "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "30s"}},
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[node_class]))
        # Built from the pool's URN so that whatever uses the selector waits for the pool.
        return pool.urn.apply(lambda _: {NODE_POOL_LABEL: NODE_POOL})

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
