"""Facts about AWS that the config check and the fake cloud build on, each with its source and date.

Nothing here declares a resource or imports an SDK. None of these tables was read live: they were
written down on 2026-12-01 from AWS's documentation as the authors knew it (AWS documentation
pages named at each table; where a page was consulted through a stored copy, the table says so).
AWS adds regions, zones, database versions and TLS policies over time: a value missing here that
AWS now offers is a stale table, fixed by adding it (with the date), not by weakening a check.
"""

from __future__ import annotations

from typing import Literal

#: Each commercial AWS region's Availability Zones as ``(zone name, AZ ID)`` pairs, the zones a new
#: account can use. Source: AWS, "AWS Regions and Availability Zones" (docs.aws.amazon.com/
#: global-infrastructure/latest/regions/aws-availability-zones.html, the AZ ID tables per
#: geography) and "AZ IDs" (.../regions/az-ids.html), and each region's page; written 2026-12-01,
#: not read live. Constrained zones that AWS no longer offers to new accounts are left out
#: (Tokyo's apne1-az3, N. California's usw1-az2).
#:
#: The AZ IDs and their number are the facts the config check relies on. The pairing of names to
#: IDs is fixed by AWS in regions opened after November 2012; in the eight oldest regions (see
#: :data:`INDEPENDENTLY_MAPPED_REGIONS`) it differs between accounts created before November 2025,
#: and the pairing written here for them is one account's (Tokyo's as ``aws ec2
#: describe-availability-zones`` showed it) or, where none is known, letters and IDs in order.
AVAILABILITY_ZONES: dict[str, tuple[tuple[str, str], ...]] = {
    # North America
    "us-east-1": tuple((f"us-east-1{letter}", f"use1-az{n}") for n, letter in enumerate("abcdef", 1)),
    "us-east-2": (("us-east-2a", "use2-az1"), ("us-east-2b", "use2-az2"), ("us-east-2c", "use2-az3")),
    "us-west-1": (("us-west-1a", "usw1-az1"), ("us-west-1c", "usw1-az3")),
    "us-west-2": (("us-west-2a", "usw2-az1"), ("us-west-2b", "usw2-az2"), ("us-west-2c", "usw2-az3"),
                  ("us-west-2d", "usw2-az4")),
    "ca-central-1": (("ca-central-1a", "cac1-az1"), ("ca-central-1b", "cac1-az2"), ("ca-central-1d", "cac1-az4")),
    "ca-west-1": (("ca-west-1a", "caw1-az1"), ("ca-west-1b", "caw1-az2"), ("ca-west-1c", "caw1-az3")),
    "mx-central-1": (("mx-central-1a", "mxc1-az1"), ("mx-central-1b", "mxc1-az2"), ("mx-central-1c", "mxc1-az3")),
    # South America
    "sa-east-1": (("sa-east-1a", "sae1-az1"), ("sa-east-1b", "sae1-az2"), ("sa-east-1c", "sae1-az3")),
    # Europe
    "eu-west-1": (("eu-west-1a", "euw1-az1"), ("eu-west-1b", "euw1-az2"), ("eu-west-1c", "euw1-az3")),
    "eu-west-2": (("eu-west-2a", "euw2-az2"), ("eu-west-2b", "euw2-az3"), ("eu-west-2c", "euw2-az1")),
    "eu-west-3": (("eu-west-3a", "euw3-az1"), ("eu-west-3b", "euw3-az2"), ("eu-west-3c", "euw3-az3")),
    "eu-central-1": (("eu-central-1a", "euc1-az2"), ("eu-central-1b", "euc1-az3"), ("eu-central-1c", "euc1-az1")),
    "eu-central-2": (("eu-central-2a", "euc2-az1"), ("eu-central-2b", "euc2-az2"), ("eu-central-2c", "euc2-az3")),
    "eu-north-1": (("eu-north-1a", "eun1-az1"), ("eu-north-1b", "eun1-az2"), ("eu-north-1c", "eun1-az3")),
    "eu-south-1": (("eu-south-1a", "eus1-az1"), ("eu-south-1b", "eus1-az2"), ("eu-south-1c", "eus1-az3")),
    "eu-south-2": (("eu-south-2a", "eus2-az1"), ("eu-south-2b", "eus2-az2"), ("eu-south-2c", "eus2-az3")),
    # Middle East and Africa
    "il-central-1": (("il-central-1a", "ilc1-az1"), ("il-central-1b", "ilc1-az2"), ("il-central-1c", "ilc1-az3")),
    "me-central-1": (("me-central-1a", "mec1-az1"), ("me-central-1b", "mec1-az2"), ("me-central-1c", "mec1-az3")),
    "me-south-1": (("me-south-1a", "mes1-az1"), ("me-south-1b", "mes1-az2"), ("me-south-1c", "mes1-az3")),
    "af-south-1": (("af-south-1a", "afs1-az1"), ("af-south-1b", "afs1-az2"), ("af-south-1c", "afs1-az3")),
    # Asia Pacific
    "ap-northeast-1": (("ap-northeast-1a", "apne1-az4"), ("ap-northeast-1c", "apne1-az1"),
                       ("ap-northeast-1d", "apne1-az2")),
    "ap-northeast-2": (("ap-northeast-2a", "apne2-az1"), ("ap-northeast-2b", "apne2-az2"),
                       ("ap-northeast-2c", "apne2-az3"), ("ap-northeast-2d", "apne2-az4")),
    "ap-northeast-3": (("ap-northeast-3a", "apne3-az3"), ("ap-northeast-3b", "apne3-az1"),
                       ("ap-northeast-3c", "apne3-az2")),
    "ap-east-1": (("ap-east-1a", "ape1-az1"), ("ap-east-1b", "ape1-az2"), ("ap-east-1c", "ape1-az3")),
    "ap-east-2": (("ap-east-2a", "ape2-az1"), ("ap-east-2b", "ape2-az2"), ("ap-east-2c", "ape2-az3")),
    "ap-south-1": (("ap-south-1a", "aps1-az1"), ("ap-south-1b", "aps1-az3"), ("ap-south-1c", "aps1-az2")),
    "ap-south-2": (("ap-south-2a", "aps2-az1"), ("ap-south-2b", "aps2-az2"), ("ap-south-2c", "aps2-az3")),
    "ap-southeast-1": (("ap-southeast-1a", "apse1-az1"), ("ap-southeast-1b", "apse1-az2"),
                       ("ap-southeast-1c", "apse1-az3")),
    "ap-southeast-2": (("ap-southeast-2a", "apse2-az1"), ("ap-southeast-2b", "apse2-az3"),
                       ("ap-southeast-2c", "apse2-az2")),
    "ap-southeast-3": (("ap-southeast-3a", "apse3-az1"), ("ap-southeast-3b", "apse3-az2"),
                       ("ap-southeast-3c", "apse3-az3")),
    "ap-southeast-4": (("ap-southeast-4a", "apse4-az1"), ("ap-southeast-4b", "apse4-az2"),
                       ("ap-southeast-4c", "apse4-az3")),
    "ap-southeast-5": (("ap-southeast-5a", "apse5-az1"), ("ap-southeast-5b", "apse5-az2"),
                       ("ap-southeast-5c", "apse5-az3")),
    "ap-southeast-6": (("ap-southeast-6a", "apse6-az1"), ("ap-southeast-6b", "apse6-az2"),
                       ("ap-southeast-6c", "apse6-az3")),
    "ap-southeast-7": (("ap-southeast-7a", "apse7-az1"), ("ap-southeast-7b", "apse7-az2"),
                       ("ap-southeast-7c", "apse7-az3")),
}

#: Regions where AWS maps zone names to AZ IDs per account (accounts created before November
#: 2025). Source: AWS, "AZ IDs", section "Regions with independently mapped Availability Zones"
#: (docs.aws.amazon.com/global-infrastructure/latest/regions/az-ids.html, stored copy), 2026-12-01.
INDEPENDENTLY_MAPPED_REGIONS = frozenset({"us-east-1", "us-west-1", "us-west-2", "ap-northeast-1", "ap-southeast-1",
                                          "ap-southeast-2", "eu-west-1", "sa-east-1"})


#: Local Zones of a region as ``(zone name, zone ID, zone group)`` triples. A Local Zone belongs to
#: its parent region's ``DescribeAvailabilityZones`` answer once the account has opted into its zone
#: group (opt-in status ``opted-in``; before that ``not-opted-in``, listed only with
#: ``AllAvailabilityZones``), while the region's Availability Zones have ``opt-in-not-required``.
#: Their names sort before the region's AZ names (``us-west-2-lax-1a`` < ``us-west-2a``). Only the
#: fake cloud uses this table (the program never places subnets in a Local Zone). Source: AWS Local
#: Zones User Guide, "Available Local Zones" (docs.aws.amazon.com/local-zones/latest/ug/
#: available-local-zones.html), and the zone-id examples of the EC2 API reference
#: (DescribeAvailabilityZones ``zone-id``: ``usw2-lax1-az1``, ``us-west-2-lax-1a``); written
#: 2026-12-01, not read live.
LOCAL_ZONES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "us-west-2": (("us-west-2-lax-1a", "usw2-lax1-az1", "us-west-2-lax-1"),
                  ("us-west-2-lax-1b", "usw2-lax1-az2", "us-west-2-lax-1"),
                  ("us-west-2-den-1a", "usw2-den1-az1", "us-west-2-den-1")),
}

#: A service that places network interfaces in the subnets of a new VPC, and refuses some zones.
ZoneService = Literal["ecs-fargate", "eks-control-plane"]

#: What each :data:`ZoneService` is called in messages.
ZONE_SERVICE_NAMES: dict[ZoneService, str] = {
    "ecs-fargate": "Amazon ECS on Fargate",
    "eks-control-plane": "the Amazon EKS control plane",
}

#: Availability Zone IDs where a service cannot run, by service. AZ IDs are the same in every
#: account (zone names are not), so the tables and the choice of zones use IDs.
#:
#: ``eks-control-plane``: the subnets given to a cluster "can't reside in" these zones (AWS, Amazon
#: EKS User Guide, "View Amazon EKS networking requirements for VPC and subnets", section "Subnet
#: requirements for clusters", table "Disallowed Availability Zone IDs": us-east-1 ``use1-az3``,
#: us-west-1 ``usw1-az2``, ca-central-1 ``cac1-az3``; read in the awsdocs/amazon-eks-user-guide
#: source, latest/ug/networking/network-reqs.adoc). Creating a cluster there fails with
#: ``UnsupportedAvailabilityZoneException``.
#:
#: ``ecs-fargate``: "AWS Fargate Regions" (Amazon ECS Developer Guide, AWS_Fargate-Regions.html,
#: section "Linux containers on AWS Fargate", stored copy) names the zones of three regions where
#: Fargate runs: us-west-1 "``usw1-az1`` & ``usw1-az3`` only", ap-northeast-1 "``apne1-az1``,
#: ``apne1-az2``, & ``apne1-az4`` only", cn-north-1 "``cnn1-az1`` & ``cnn1-az2`` only". Listed here
#: are the other zone IDs of those regions: ``usw1-az2``, ``apne1-az3`` (both constrained zones, also
#: left out of :data:`AVAILABILITY_ZONES`) and ``cnn1-az4`` (cn-north-1d). Earlier versions of the
#: page also restricted ca-central-1 to ``cac1-az1`` & ``cac1-az2``; the current one does not. Not
#: covered: ARM64 Fargate tasks, which an older page ("Working with 64-bit ARM workloads") said
#: ``use1-az3`` does not run, and Windows containers.
#:
#: Written 2026-12-01, not read live.
UNSUPPORTED_ZONE_IDS: dict[ZoneService, frozenset[str]] = {
    "ecs-fargate": frozenset({"usw1-az2", "apne1-az3", "cnn1-az4"}),
    "eks-control-plane": frozenset({"use1-az3", "usw1-az2", "cac1-az3"}),
}


def zones_of(region: str) -> tuple[tuple[str, str], ...]:
    """The ``(zone name, AZ ID)`` pairs of ``region`` from :data:`AVAILABILITY_ZONES`.

    Raises ``KeyError`` naming the region when the table does not know it."""
    try:
        return AVAILABILITY_ZONES[region]
    except KeyError:
        raise KeyError(f"no Availability Zones are known for region {region!r} (components/aws_facts.py "
                       "AVAILABILITY_ZONES; add the region with its source)") from None


#: RDS for PostgreSQL major versions a new DB instance can be created with, each with its RDS end of
#: standard support (after it, until the end of RDS Extended Support, new and running instances are
#: enrolled in Extended Support, charged extra). Majors not listed (10 and older) are no longer
#: offered. Source: AWS, "Release calendars for Amazon RDS for PostgreSQL" (docs.aws.amazon.com/
#: AmazonRDS/latest/PostgreSQLReleaseNotes/postgresql-release-calendar.html) and "Overview of
#: Amazon RDS Extended Support" (new databases may be created on majors past their end of standard
#: support); written 2026-12-01 from the calendar as known, not read live.
RDS_POSTGRES_MAJOR_VERSIONS: dict[int, str] = {
    11: "2024-02-29",
    12: "2025-02-28",
    13: "2026-02-28",
    14: "2027-02-28",
    15: "2028-02-29",
    16: "2029-02-28",
    17: "2030-02-28",
    18: "2031-02-28",
}

#: The predefined ELB security policies a Network Load Balancer's TLS listener accepts
#: (``SslPolicy``). Source: AWS, Elastic Load Balancing, "Security policies for your Network Load
#: Balancer" (docs.aws.amazon.com/elasticloadbalancing/latest/network/describe-ssl-policies.html,
#: stored copy incl. the 2025-09 post-quantum (PQ) policies), 2026-12-01: TLS 1.3 policies, FIPS
#: policies, PQ policies, and the older TLS 1.0-1.2 and forward-secrecy (FS) ones.
NLB_SSL_POLICIES: tuple[str, ...] = (
    # TLS 1.3
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
    "ELBSecurityPolicy-TLS13-1-1-2021-06",
    "ELBSecurityPolicy-TLS13-1-0-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    # TLS 1.3, hybrid post-quantum key exchange (ML-KEM)
    "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-Ext2-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09",
    # FIPS
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-1-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-0-FIPS-2023-04",
    # FIPS, hybrid post-quantum key exchange
    "ELBSecurityPolicy-TLS13-1-2-FIPS-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-3-FIPS-PQ-2025-09",
    # TLS 1.0-1.2 and forward secrecy
    "ELBSecurityPolicy-2016-08",
    "ELBSecurityPolicy-TLS-1-0-2015-04",
    "ELBSecurityPolicy-TLS-1-1-2017-01",
    "ELBSecurityPolicy-TLS-1-2-2017-01",
    "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
    "ELBSecurityPolicy-FS-2018-06",
    "ELBSecurityPolicy-FS-1-1-2019-08",
    "ELBSecurityPolicy-FS-1-2-2019-08",
    "ELBSecurityPolicy-FS-1-2-Res-2019-08",
    "ELBSecurityPolicy-FS-1-2-Res-2020-10",
)
