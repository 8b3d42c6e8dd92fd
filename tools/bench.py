"""Benchmark the offline render against its import floor: ``python -m tools.bench [STACK ...] [--runs N]``.

For each example stack (``Pulumi.<stack>.yaml``; default all), the best of N wall times (default 5),
each in a fresh interpreter, of:

- the **import floor**: a program that imports Pulumi's mock runtime (``pulumi.runtime.mocks``) and
  touches every SDK class and invoke the render of that stack uses (found by rendering it once in this
  process: ``aws:ecs/service:Service`` is ``pulumi_aws.ecs.Service``, ``aws:index/getCallerIdentity``
  is ``pulumi_aws.get_caller_identity``, providers and ``pulumi.dynamic`` likewise). No render can
  take less; ``--show-floor`` prints that program;
- the **render**: ``python -m tools.render STACK --out <temporary folder>``.

Prints one row per stack: both times in seconds and their ratio. The runs alternate so that a busy
machine slows both alike. It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Optional

from pulumi.runtime import rpc

from tools.mocks import PROJECT_ROOT

#: Mock runtime of every render, imported by the floor whatever the stack.
MOCK_RUNTIME = "pulumi.runtime.mocks"


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _sdk(pkg: str) -> Optional[str]:
    """The Python package of Pulumi package ``pkg`` (``aws``: ``pulumi_aws``), imported so that it
    registers its resource modules; None when there is none (a component of this project)."""
    name = f"pulumi_{pkg.replace('-', '_')}"
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        return None
    return name


def sdk_symbol(token: str, invoke: bool = False) -> Optional[tuple[str, str]]:
    """The ``(module, name)`` of the SDK class of resource type ``token``, or of the function of
    invoke ``token`` when ``invoke``; None for what no SDK declares (the stack, components).

    Resource types are looked up in the resource modules and packages each SDK registers with
    Pulumi's runtime when imported; raises ``LookupError`` for a token its SDK does not know."""
    pkg, middle, member = token.split(":")
    if token == "pulumi:pulumi:Stack":
        return None
    if pkg == "pulumi-python" and middle.startswith("dynamic"):
        return "pulumi.dynamic", "Resource"
    provider = pkg == "pulumi" and middle == "providers"
    sdk = _sdk(member if provider else pkg)
    if sdk is None:
        if provider:
            raise LookupError(f"no SDK for provider {token}")
        return None  # a component (``kong-aws:index:Network``): this project's, not an SDK's
    if provider:
        info = getattr(rpc.get_resource_package(member, ""), "pkg_info", None)
        if info is None:
            raise LookupError(f"{sdk} registers no provider {token}")
        return info["fqn"], info["class"]
    if invoke:
        head = middle.split("/")[0]
        return sdk + ("" if head == "index" else "." + head.replace(".", "_")), _snake(member)
    info = getattr(rpc.get_resource_module(pkg, middle, ""), "mod_info", None)
    if info is None or token not in info["classes"]:
        if pkg == "kubernetes" and "." in middle.split("/")[0]:
            # A custom resource of another API group (eks.amazonaws.com/v1 NodeClass): declared
            # through the SDK's generic class.
            return "pulumi_kubernetes.apiextensions", "CustomResource"
        raise LookupError(f"{sdk} registers no resource type {token}")
    return info["fqn"], info["classes"][token]


def import_floor_code(resource_types: Iterable[str], invokes: Iterable[str]) -> str:
    """A Python program that imports the mock runtime and the SDK class of every resource type
    and the function of every invoke token, each with ``from <module> import <names>``; checked
    here against the SDKs."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for token, invoke in [(t, False) for t in set(resource_types)] + [(t, True) for t in set(invokes)]:
        found = sdk_symbol(token, invoke=invoke)
        if found:
            wanted[found[0]].add(found[1])
    lines = [f"import {MOCK_RUNTIME}"]
    for module in sorted(wanted):
        loaded = importlib.import_module(module)
        for name in sorted(wanted[module]):
            if not hasattr(loaded, name):
                raise LookupError(f"{module} has no {name}")
        lines.append(f"from {module} import {', '.join(sorted(wanted[module]))}")
    return "\n".join(lines) + "\n"


def stack_floor(stack: str) -> tuple[str, int]:
    """Render ``stack`` once in this process; its import floor program and the number of SDK
    symbols it touches."""
    from tools.render import render

    with tempfile.TemporaryDirectory(prefix=f"bench-{stack}-") as tmp:
        result = render(stack, Path(tmp) / stack)
    code = import_floor_code((r.type for r in result.registrations), (token for token, _ in result.invokes))
    count = sum(len(line.split(" import ", 1)[1].split(", ")) for line in code.splitlines()
                if line.startswith("from "))
    return code, count


def _wall(args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, cwd=PROJECT_ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def measure(stack: str, code: str, runs: int) -> tuple[float, float]:
    """Best-of-``runs`` wall seconds of the import floor ``code`` and of the render of ``stack``,
    each in a fresh interpreter, alternating."""
    floor, render = float("inf"), float("inf")
    with tempfile.TemporaryDirectory(prefix=f"bench-{stack}-") as tmp:
        for _ in range(runs):
            floor = min(floor, _wall([sys.executable, "-c", code]))
            render = min(render, _wall([sys.executable, "-m", "tools.render", stack, "--out", str(Path(tmp) / stack)]))
    return floor, render


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("stacks", nargs="*", metavar="STACK", help="example stacks (default: all)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each measurement; the best counts (default 5)")
    parser.add_argument("--show-floor", action="store_true", help="print each stack's import floor program, time nothing")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be 1 or more")
    from tools.golden import stacks as example_stacks

    known = example_stacks()
    unknown = [s for s in args.stacks if s not in known]
    if unknown:
        print(f"error: no stack file for {', '.join(unknown)} (example stacks: {', '.join(known)})", file=sys.stderr)
        return 2
    chosen = args.stacks or known
    floors = {stack: stack_floor(stack) for stack in chosen}
    if args.show_floor:
        for stack, (code, _) in floors.items():
            print(f"# import floor of stack {stack}\n{code}")
        return 0
    print(f"best of {args.runs} runs, each in a fresh interpreter (Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores)")
    width = max(len("stack"), *(len(s) for s in chosen))
    print(f"{'stack'.ljust(width)}  SDK symbols  import floor   render  ratio")
    for stack in chosen:
        code, count = floors[stack]
        floor, render = measure(stack, code, args.runs)
        print(f"{stack.ljust(width)}  {count:11d}  {floor:10.2f} s  {render:5.2f} s  {render / floor:5.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
