"""mypy is clean on the program, its components and tools, as `pulumi up` checks them.

`pulumi preview` / `up` run ``python -m mypy --exclude .venv .`` in the project directory before the
program (Pulumi.yaml ``runtime.options.typechecker: mypy``, pulumi-language-python), with the
``[tool.mypy]`` settings of pyproject.toml; the test runs exactly that.

From a cold cache (a fresh clone, as in CI) mypy takes about 7.5 s on the 2-core reference machine
(with pyproject.toml's SDK overrides; 55 s without). tests/conftest.py therefore starts it in the
background when the session begins, beside the test workers, and the test waits for its answer. The other tests here check that those overrides leave no SDK
module the program uses unchecked.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import os
import time
import tomllib
import types
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MYPY, MYPY_DIR_ENV
from tools.mocks import PROJECT_ROOT

#: Generous: a cold run takes about 7.5 s alone, more beside the other tests.
TIMEOUT_SECONDS = 300


def test_mypy_finds_no_error():
    # tests/conftest.py started `MYPY` when the session began (once, in the process that runs the
    # session), so that it runs beside the other tests; here its answer is awaited.
    directory = Path(os.environ[MYPY_DIR_ENV])
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not (directory / "code").exists():
        if time.monotonic() > deadline:
            pytest.fail(f"mypy did not finish in {TIMEOUT_SECONDS} s")
        time.sleep(0.2)
    code = int((directory / "code").read_text())
    report = (directory / "output").read_text()
    assert code == 0, f"`{' '.join(MYPY[1:])}` (as `pulumi up` runs it) reports:\n{report}"


# --- The SDK modules mypy follows.

SDKS = ("pulumi_aws", "pulumi_kubernetes")
#: Modules of an SDK package that hold what its classes' arguments refer to.
SHARED = ("_inputs", "outputs", "_enums")


def _overrides(follow: str) -> set[str]:
    overrides = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["overrides"]
    return {m for o in overrides if o.get("follow_imports") == follow for m in o["module"]}


def followed(module: str, patterns: set[str]) -> bool:
    """Whether ``module`` matches one of the ``follow_imports = "normal"`` ``patterns`` (a name, or
    ``name.*`` for it and its submodules), which are more specific than the SDKs' ``pkg.*`` skips."""
    return module in patterns or any(
        p.endswith(".*") and (module == p[:-2] or module.startswith(p[:-1])) for p in patterns)


def _program_files() -> list[Path]:
    return sorted([PROJECT_ROOT / "__main__.py", *(PROJECT_ROOT / "components").glob("*.py"),
                   *(PROJECT_ROOT / "tools").glob("*.py"), *(PROJECT_ROOT / "provider").glob("*.py")])


def _dotted(node: ast.expr) -> list[str]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.insert(0, node.attr)
        node = node.value
    return [node.id, *parts] if isinstance(node, ast.Name) else []


def sdk_modules_needed(source: str) -> set[str]:
    """The SDK modules mypy must follow to check ``source``'s uses of pulumi_aws and
    pulumi_kubernetes: each package on the way to a class or function (``pulumi_aws.ecs``), its
    shared inputs, outputs and enums, and the module that defines the class or function
    (``pulumi_aws.ecs.service``). Names are resolved in the installed SDKs."""
    tree = ast.parse(source)
    roots: dict[str, str] = {}
    chains: list[list[str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in SDKS:  # `import pulumi_aws as aws`, `import pulumi_aws.ecs as ecs`, `import pulumi_aws.ecs`
                    roots[alias.asname or top] = alias.name if alias.asname else top
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in SDKS:
            chains += [[*node.module.split("."), alias.name] for alias in node.names]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain = _dotted(node)
            if chain and chain[0] in roots:
                chains.append([*roots[chain[0]].split("."), *chain[1:]])
    needed: set[str] = set()
    for chain in chains:
        obj: Any = importlib.import_module(chain[0])
        for i, name in enumerate(chain[1:], start=1):
            if isinstance(obj, types.ModuleType):
                package = ".".join(chain[:i])
                needed.add(package)
                needed.update(f"{package}.{m}" for m in SHARED if importlib.util.find_spec(f"{package}.{m}"))
            try:
                obj = getattr(obj, name)
            except AttributeError:
                obj = importlib.import_module(".".join(chain[:i + 1]))
            if not isinstance(obj, types.ModuleType):
                needed.add(inspect.getmodule(obj).__name__)
                break
    return needed


def test_sdk_module_scan_sees_every_import_form():
    source = ("import pulumi_aws as aws\nimport pulumi_kubernetes as k8s\nfrom pulumi_aws.iam import Role\n"
              "aws.ecs.Service\nk8s.core.v1.Secret\naws.get_region\naws.ec2.VpcArgs\n")
    needed = sdk_modules_needed(source)
    assert {"pulumi_aws.ecs", "pulumi_aws.ecs._inputs", "pulumi_aws.ecs.service", "pulumi_aws.iam.role",
            "pulumi_aws.get_region", "pulumi_aws.ec2.vpc", "pulumi_kubernetes.core.v1",
            "pulumi_kubernetes.core.v1.Secret"} <= needed
    assert not {m for m in needed if m.startswith("pulumi_aws.ecs.") and m not in
                ("pulumi_aws.ecs._inputs", "pulumi_aws.ecs.outputs", "pulumi_aws.ecs.service")}


def test_followed_is_mypys_pattern_matching():
    patterns = {"pulumi_aws.ecs", "pulumi_aws.ecs.service", "pulumi_kubernetes.core.v1.*"}
    assert followed("pulumi_aws.ecs.service", patterns) and followed("pulumi_kubernetes.core.v1", patterns)
    assert followed("pulumi_kubernetes.core.v1.Secret", patterns)
    assert not followed("pulumi_aws.ecs.cluster", patterns) and not followed("pulumi_kubernetes.core.v1beta1", patterns)


def test_mypy_follows_every_sdk_module_the_program_uses():
    # A module mypy skips is `Any` to it: calls into it would go unchecked.
    patterns = _overrides("normal")
    needed = set().union(*(sdk_modules_needed(p.read_text()) for p in _program_files()))
    missing = sorted(m for m in needed if not followed(m, patterns))
    assert not missing, f"add {missing} to the follow_imports = \"normal\" override in pyproject.toml"


def test_mypy_follows_every_top_level_module_of_the_sdks():
    # The skipped `pulumi_aws.*` would also hide a top-level module a new SDK version adds.
    patterns = _overrides("normal")
    for package in SDKS:
        top = [f"{package}.{p.stem}" for p in Path(importlib.import_module(package).__file__).parent.glob("*.py")
               if p.stem != "__init__"]
        assert followed(package, patterns)
        assert [m for m in top if not followed(m, patterns)] == []
    assert _overrides("skip") == {f"{package}.*" for package in SDKS}
