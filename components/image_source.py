"""Where the nodes pull their images from: Docker Hub directly, or an ECR pull through cache of it.

Docker Hub limits the pulls of anonymous clients per IPv4 address (or IPv6 /64) and hour; every
Fargate task start and every new EKS node pulls through a few NAT or public addresses, so a rolling
deployment, circuit-breaker retries or a scale-out can be refused with ``toomanyrequests``. Source:
Docker, "Docker Hub usage and limits" / "Pull usage and limits"
(https://docs.docker.com/docker-hub/usage/pulls/); the number changes over time, so none is written here.

With ``image_source`` ``ecr-pull-through``, :class:`ImageSource` declares an ECR pull through cache
rule for Docker Hub (``registry-1.docker.io``) that signs in with the user's Docker Hub credentials,
and every Docker Hub image the deployment runs is pulled as
``<account>.dkr.ecr.<region>.amazonaws.com/<prefix>/<Docker Hub path>``. Facts from AWS's ECR user guide:

- "Pulling an image with a pull through cache rule" (pull-through-cache-working-pulling.html): Docker
  Hub official images take the ``library/`` prefix (``postgres`` -> ``<prefix>/library/postgres``);
  other Docker Hub repositories do not (``kong/kong-gateway`` -> ``<prefix>/kong/kong-gateway``).
- "Creating a pull through cache rule" (pull-through-cache-creating-rule.html): the credentials are a
  Secrets Manager secret whose name begins with ``ecr-pullthroughcache/``, in the account and Region of
  the rule.
- "IAM permissions required to sync an upstream registry" (pull-through-cache-iam.html): besides the
  permissions to authenticate and pull, the puller needs ``ecr:BatchImportUpstreamImage`` (fetch the
  upstream image into the cache) and ``ecr:CreateRepository`` (only when the cache repository does
  not exist yet, i.e. on the first pull of each image).
- CloudFormation ``AWS::ECR::PullThroughCacheRule`` and botocore's ECR model: the prefix is 2-30
  characters matching :data:`PREFIX_PATTERN`; the credential ARN is 50-612 characters.

An image already in ECR (``kong.image`` an ECR repository URI) needs neither: the task execution role
gets pull permissions on that repository (:func:`components.ecs_task_definition.execution_role_policy`).
"""

import re
from dataclasses import dataclass
from typing import Any, Optional, Required, Sequence, TypedDict

import pulumi
import pulumi_aws as aws

from components.kong_settings import KONG_DEFAULTS, ImageSourceKind, KongArgs
from components.package import type_token, with_defaults

#: Docker Hub's registry endpoint, the upstream of the cache rule (pull-through-cache-creating-rule.html).
DOCKER_HUB_REGISTRY = "registry-1.docker.io"
#: The name every pull through cache credential secret starts with.
CREDENTIALS_PREFIX = "ecr-pullthroughcache/"
#: The ECR repository prefix of a cache rule (botocore ECR model, ``PullThroughCacheRuleRepositoryPrefix``).
PREFIX_PATTERN = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*", re.ASCII)
_CREDENTIALS_ARN = re.compile(
    r"arn:(aws[a-z-]*):secretsmanager:([a-z]{2}(?:-[a-z]+)+-[0-9]):([0-9]{12}):secret:([A-Za-z0-9/_+=.@-]+)", re.ASCII)
_DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")
#: The stack output `imagePullWarning` when images come from Docker Hub anonymously (source: the module docstring).
WARNING = ("{images} pulled anonymously from Docker Hub, which limits anonymous pulls per source IP address "
           "and hour (https://docs.docker.com/docker-hub/usage/pulls/): a rolling deployment or scale-out can "
           "fail with toomanyrequests. Set kong-aws:kong.imageSource to ecr-pull-through with "
           "kong-aws:kong.dockerHubCredentialsSecretArn, or kong-aws:kong.image to an ECR repository.")


@dataclass(frozen=True)
class CredentialsArn:
    """A pull through cache credential secret's ARN, parsed: ``partition``, ``region``, ``account``, ``name``."""

    partition: str
    region: str
    account: str
    name: str


def parse_credentials_arn(arn: str) -> CredentialsArn:
    """Parse the ARN of a Secrets Manager secret holding Docker Hub credentials for a pull through cache.

    Raises ``ValueError`` (saying what is allowed) when ``arn`` is not a Secrets Manager secret ARN,
    is longer than 612 characters or shorter than 50, or the secret's name does not start with
    :data:`CREDENTIALS_PREFIX` (ECR only reads secrets with that prefix).
    """
    match = _CREDENTIALS_ARN.fullmatch(arn)
    if not match or not 50 <= len(arn) <= 612:
        raise ValueError("not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:"
                         f"{CREDENTIALS_PREFIX}<name>-<6 characters>, 50-612 characters)")
    partition, region, account, name = match.groups()
    if not name.startswith(CREDENTIALS_PREFIX) or len(name) == len(CREDENTIALS_PREFIX):
        raise ValueError(f"the secret's name {name!r} must start with {CREDENTIALS_PREFIX}: ECR pull through "
                         "cache rules only use secrets so named")
    return CredentialsArn(partition, region, account, name)


def check_prefix(prefix: str) -> str:
    """``prefix`` if ECR accepts it as a cache rule's repository prefix, else ``ValueError``."""
    if not 2 <= len(prefix) <= 30 or not PREFIX_PATTERN.fullmatch(prefix):
        raise ValueError("2-30 characters: lower-case letters and digits, with '.', '_', '-' or '/' between")
    return prefix


def docker_hub_path(repository: str) -> Optional[str]:
    """The Docker Hub path of an image repository, or None when it names another registry.

    ``postgres`` -> ``library/postgres`` (an official image), ``kong/kong-gateway`` -> itself,
    ``docker.io/kong/kong-gateway`` -> ``kong/kong-gateway``; ``123456789012.dkr.ecr...`` or
    ``ghcr.io/...`` -> None. A first part with a ``.`` or ``:``, or ``localhost``, is a registry host
    (Docker's reference grammar).
    """
    first, _, rest = repository.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        if first not in _DOCKER_HUB_HOSTS:
            return None
        repository = rest
    return repository if "/" in repository else f"library/{repository}"


def ecr_registry(account: str, region: str) -> str:
    """The ECR private registry host of ``account`` in ``region`` (``.amazonaws.com.cn`` in China)."""
    return f"{account}.dkr.ecr.{region}.amazonaws.com" + (".cn" if region.startswith("cn-") else "")


_ECR_IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/([^:@]+)")


def ecr_repository_arn(image: str) -> Optional[str]:
    """The ARN of the ECR private repository an image reference (``<account>.dkr.ecr.<region>.
    amazonaws.com[.cn]/<repository>[:tag|@digest]``) names, or None for an image of another
    registry. The partition follows the region: ``aws-cn`` for ``cn-*``, ``aws-us-gov`` for
    ``us-gov-*``, else ``aws`` (AWS General Reference, "Amazon Resource Names")."""
    match = _ECR_IMAGE.match(image)
    if match is None:
        return None
    account, region, _, repository = match.groups()
    partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    return f"arn:{partition}:ecr:{region}:{account}:repository/{repository}"


@dataclass(frozen=True)
class PullThroughCache:
    """An ECR pull through cache of Docker Hub: the registry of ``account`` in ``region`` caches
    Docker Hub under repository ``prefix``, signing in with ``credential_arn``."""

    partition: str
    account: str
    region: str
    prefix: str
    credential_arn: str

    def repository(self, docker_hub_repository: str) -> str:
        """The cache repository's URI (no tag) for a Docker Hub repository (``postgres``,
        ``kong/kong-gateway``). Raises ``ValueError`` for another registry's repository."""
        path = docker_hub_path(docker_hub_repository)
        if path is None:
            raise ValueError(f"{docker_hub_repository} is not a Docker Hub repository; the cache holds Docker Hub's")
        return f"{ecr_registry(self.account, self.region)}/{self.prefix}/{path}"

    def repository_arn(self, docker_hub_repository: str) -> str:
        """The ARN of the cache repository of a Docker Hub repository."""
        name = self.repository(docker_hub_repository).split("/", 1)[1]
        return f"arn:{self.partition}:ecr:{self.region}:{self.account}:repository/{name}"

    def import_statement(self, docker_hub_repositories: Sequence[str]) -> dict:
        """The IAM statement that lets a puller fill the cache repositories of exactly these Docker
        Hub repositories: ``ecr:BatchImportUpstreamImage`` and ``ecr:CreateRepository`` (the first pull
        of an image creates its repository). Source: pull-through-cache-iam.html."""
        return {"Sid": "EcrPullThroughCacheImport", "Effect": "Allow",
                "Action": ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
                "Resource": sorted({self.repository_arn(r) for r in docker_hub_repositories})}

    def rule_request(self) -> dict:
        """The ECR ``CreatePullThroughCacheRule`` request the rule stands for (botocore's shape)."""
        return {"ecrRepositoryPrefix": self.prefix, "upstreamRegistryUrl": DOCKER_HUB_REGISTRY,
                "upstreamRegistry": "docker-hub", "credentialArn": self.credential_arn}


def pull_through_cache(kong: KongArgs) -> Optional[PullThroughCache]:
    """The pull through cache ``kong`` asks for, or None (``image_source`` ``direct``). The cache is in
    the account and Region of the credentials secret, as AWS requires of the rule.

    Raises ``ValueError`` when ``ecr-pull-through`` lacks ``docker_hub_credentials_secret_arn`` or
    ``kong.image`` is not a Docker Hub repository, when the ARN or prefix is malformed, and when the
    credentials are given without ``ecr-pull-through``.
    """
    settings = with_defaults(kong, KONG_DEFAULTS)
    arn = settings.get("docker_hub_credentials_secret_arn")
    if ImageSourceKind(settings["image_source"]) is not ImageSourceKind.ECR_PULL_THROUGH:
        if arn is not None:
            raise ValueError("docker_hub_credentials_secret_arn is for image_source ecr-pull-through")
        return None
    if arn is None:
        raise ValueError("image_source ecr-pull-through needs docker_hub_credentials_secret_arn")
    parsed = parse_credentials_arn(arn)
    if docker_hub_path(settings["image"]) is None:
        raise ValueError(f"image {settings['image']} is not on Docker Hub: the pull through cache caches Docker Hub")
    return PullThroughCache(parsed.partition, parsed.account, parsed.region,
                            check_prefix(settings["pull_through_cache_prefix"]), arn)


def pulled_repository(kong: KongArgs, repository: Optional[str] = None) -> str:
    """The repository the nodes pull for ``repository`` (default Kong's ``image``): its pull through
    cache repository when ``kong`` asks for one, else ``repository`` itself."""
    repository = repository if repository is not None else with_defaults(kong, KONG_DEFAULTS)["image"]
    cache = pull_through_cache(kong)
    return cache.repository(repository) if cache is not None else repository


def import_statement(kong: KongArgs, repositories: Sequence[str] = ()) -> Optional[dict]:
    """The IAM statement a puller of Kong's image and ``repositories`` (Docker Hub names) needs to fill
    the cache (:meth:`PullThroughCache.import_statement`), or None without a cache."""
    cache = pull_through_cache(kong)
    if cache is None:
        return None
    return cache.import_statement([with_defaults(kong, KONG_DEFAULTS)["image"], *repositories])


def pull_warning(repositories: Sequence[str]) -> Optional[str]:
    """The warning for the ``repositories`` (as the nodes pull them) that come from Docker Hub
    anonymously, or None when none does."""
    anonymous = [r for r in repositories if docker_hub_path(r) is not None]
    return WARNING.format(images=" and ".join(anonymous) + (" is" if len(anonymous) == 1 else " are")) \
        if anonymous else None


class ImageSourceArgs(TypedDict, total=False):
    """Arguments of :class:`ImageSource`."""

    kong: Required[KongArgs]
    """the Kong Gateway: ``image``, ``image_source``, ``docker_hub_credentials_secret_arn``, ``pull_through_cache_prefix``"""
    region: Required[str]
    """the AWS region of the cache (``aws:region``)"""
    docker_hub_repositories: list[str]
    """Docker Hub repositories the deployment pulls besides Kong's (``postgres``; default none)"""


class ImageSource(pulumi.ComponentResource):
    """Where a deployment's images come from (type ``kong-aws:index:ImageSource``).

    With ``kong.image_source`` ``ecr-pull-through``: one child, ``{name}-docker-hub`` (an
    ``aws.ecr.PullThroughCacheRule`` for Docker Hub with the user's credentials); the components that
    pull name the cache repositories with :func:`pulled_repository` and grant :func:`import_statement`,
    and fold ``ready`` into the input that names the image, so that the rule exists before the first
    pull (a ``depends_on`` on a component does not reach its children). With ``direct``: no
    child, and ``image_pull_warning`` warns when an image comes from Docker Hub anonymously.

    Raises ``ValueError`` (see :func:`pull_through_cache`; and when the secret is not in ``region``)
    before declaring anything.

    Outputs: ``repository_prefix`` (the cache's, or None) and ``image_pull_warning`` (or None).
    """

    repository_prefix: Optional[pulumi.Output[str]]
    """the ECR repository prefix of the cache (pull through only)"""
    image_pull_warning: Optional[pulumi.Output[str]]
    """the Docker Hub anonymous pull limit warning (direct pulls from Docker Hub only)"""
    ready: pulumi.Output[str]
    """resolves once the images can be pulled (after the cache rule exists): give it to what pulls, as
    a dependency (a component's ``depends_on`` does not reach its children)"""

    def __init__(self, name: str, args: ImageSourceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        kong, region = args["kong"], args["region"]
        cache = pull_through_cache(kong)
        if cache is not None and cache.region != region:
            raise ValueError(f"the Docker Hub credentials secret is in {cache.region}; a pull through cache rule in "
                             f"{region} needs a secret of its own Region (pull-through-cache-creating-rule.html)")
        super().__init__(type_token(ImageSource), name, None, opts)
        self.repository_prefix = None
        self.image_pull_warning = None
        self.ready = pulumi.Output.from_input("")
        if cache is not None:
            rule = aws.ecr.PullThroughCacheRule(
                f"{name}-docker-hub", ecr_repository_prefix=cache.prefix,
                upstream_registry_url=DOCKER_HUB_REGISTRY, credential_arn=cache.credential_arn,
                opts=pulumi.ResourceOptions(parent=self))
            self.repository_prefix = rule.ecr_repository_prefix
            self.ready = rule.id
        else:
            images = [with_defaults(kong, KONG_DEFAULTS)["image"], *(args.get("docker_hub_repositories") or [])]
            warning = pull_warning(images)
            self.image_pull_warning = pulumi.Output.from_input(warning) if warning else None
        self.register_outputs({"repository_prefix": self.repository_prefix,
                               "image_pull_warning": self.image_pull_warning, "ready": self.ready})


def node_role_policy(statement: dict[str, Any]) -> dict:
    """An IAM policy document with the one ``statement``."""
    return {"Version": "2012-10-17", "Statement": [statement]}
