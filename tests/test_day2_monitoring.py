"""Day 2 of Container Insights on a cluster the stack made (dev-eks): turning
`kong-aws:eks.containerInsights` off, after it ran on by default.

Runs the example once more under the mocks, its own run as the state, and reads the plan
(tools/plan.py). Turning it on for an existing cluster is tests/test_eks_cluster.py's.
"""

from __future__ import annotations

import json

from tests.conftest import example_run
from tools.mocks import PROJECT_ROOT, run_program
from tools.plan import DELETE, REPLACE, UPDATE, plan
from tools.render import read_stack_config


def test_turning_container_insights_off_removes_the_add_on_and_the_alarms_that_read_it():
    config, secrets, project = read_stack_config("dev-eks")
    eks = {**json.loads(config["kong-aws:eks"]), "containerInsights": False}
    config["kong-aws:eks"] = json.dumps(eks)
    before = example_run("dev-eks")
    steps = plan(before, run_program(PROJECT_ROOT / "__main__.py", config, secrets, project=project,
                                     stack="dev-eks", prior=before))
    changes = {urn.rsplit("::", 1)[-1]: op for urn, op in steps.changes().items()}
    # The add-on with its role, and the two ready-pods alarms that only it fed; the dashboard shows
    # a note in their place. Nothing of the cluster, the releases or the proxy moves.
    assert changes == {"kong-eks-container-insights": DELETE, "kong-eks-container-insights-role": DELETE,
                       "kong-eks-container-insights-role-CloudWatchAgentServerPolicy": DELETE,
                       "kong-monitoring-cp-pods-below-desired": DELETE,
                       "kong-monitoring-dp-pods-below-desired": DELETE,
                       "kong-monitoring-dashboard": UPDATE}
    assert REPLACE not in changes.values()
