"""Golden renders: ``python -m tools.golden --check`` / ``--update [STACK ...]``.

``tests/golden/<stack>/`` holds the offline render (:mod:`tools.render`) of every example stack
(``Pulumi.<stack>.yaml``): ``resources.json``, ``outputs.json``, ``ecs/<family>.json`` and
``helm/<release>.values.yaml``, as the render writes them with two changes so that two renders of
the same code give the same files:

- ``resources.json`` is sorted by URN (the engine registers resources concurrently, so their order
  varies from run to run);
- what differs from run to run is written as ``"[volatile]"``: the body of every PEM block
  (certificates and certificate requests: the mocks sign with real, randomised ECDSA signatures
  and the current time), ISO-8601 timestamps (validity start and end), and hex SHA-256 values under
  a key naming ``sha256`` (the certificate hash in Docker labels and pod annotations), and the
  content hash in the names of the hybrid gateway sync's Job, ConfigMap and Secret (it covers the
  Admin API's CA, a fresh key in every render). Secrets are already ``"[secret]"``.

``--check`` renders each stack and prints a unified diff of every file that differs from its golden
copy (exit status 1), ``--update`` rewrites the golden copies (rendering each stack twice first: if
the two renders still differ, a volatile field is not masked, and nothing is written). Commit the
updated files with the change that caused them, so the pull request shows its resource changes as
a plain diff. Invalid config: the error, exit status 2.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from tools.mocks import RunResult

import yaml

from tools.mocks import PROJECT_ROOT

GOLDEN_DIR = PROJECT_ROOT / "tests" / "golden"
#: How a value that differs from run to run is written.
VOLATILE = "[volatile]"

_PEM = re.compile(r"(-----BEGIN ([A-Z0-9 ]+)-----).*?(-----END \2-----)", re.S)
_TIMESTAMP = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
#: A ``"...sha256...": "<hex>"`` pair inside JSON text held in a string (ECS containerDefinitions).
_SHA256_IN_JSON = re.compile(r'("[^"\\]*sha256[^"\\]*"\s*:\s*")[0-9a-f]{64}(")', re.I)
#: The content hash of a gateway sync's object names (components.gateway_sync.job_name).
_SYNC_NAME = re.compile(r"(-gateway-sync-)[0-9a-f]{10}\b")


def stacks(root: Path = PROJECT_ROOT) -> list[str]:
    """The example stacks: ``<stack>`` of every ``Pulumi.<stack>.yaml`` under ``root``, sorted."""
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def mask_text(text: str) -> str:
    """``text`` with PEM bodies, timestamps and SHA-256 values of ``sha256`` keys in embedded JSON
    replaced by :data:`VOLATILE`."""
    text = _PEM.sub(lambda m: f"{m.group(1)}{VOLATILE}{m.group(3)}", text)
    text = _TIMESTAMP.sub(VOLATILE, text)
    text = _SYNC_NAME.sub(lambda m: f"{m.group(1)}{VOLATILE}", text)
    return _SHA256_IN_JSON.sub(lambda m: f"{m.group(1)}{VOLATILE}{m.group(2)}", text)


def mask(value: Any, key: str = "") -> Any:
    """``value`` (parsed JSON or YAML) with every volatile part replaced by :data:`VOLATILE`; ``key``
    is the mapping key ``value`` sits under."""
    if isinstance(value, dict):
        return {k: mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, key) for v in value]
    if isinstance(value, str):
        if "sha256" in key.lower() and _SHA256_HEX.fullmatch(value):
            return VOLATILE
        return mask_text(value)
    return value


def _json(value: Any) -> str:
    return json.dumps(value, indent=2) + "\n"


def golden_files(render_dir: Path) -> dict[str, str]:
    """The golden form of the render in ``render_dir``: relative path (``ecs/x.json``) to text."""
    files: dict[str, str] = {}
    for path in sorted(p for p in render_dir.rglob("*") if p.is_file()):
        name = path.relative_to(render_dir).as_posix()
        text = path.read_text()
        if name == "resources.json":
            files[name] = _json(mask(sorted(json.loads(text), key=lambda r: r["urn"])))
        elif name.endswith(".json"):
            files[name] = _json(mask(json.loads(text)))
        elif name.endswith((".yaml", ".yml")):
            # The render's header comment, then the values dumped as tools.render dumps them.
            head = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
            body = yaml.safe_load(text)
            files[name] = head + yaml.safe_dump(mask(body), sort_keys=True, default_flow_style=False)
        else:
            files[name] = mask_text(text)
    return files


def render_golden(stack: str, root: Path = PROJECT_ROOT, result: Optional["RunResult"] = None) -> dict[str, str]:
    """Render ``stack`` offline (in this process; or write the files of ``result``, a run of it
    already made) and return its golden form. Raises the render's ``ConfigError`` /
    ``FileNotFoundError``."""
    from tools.render import render, write_render

    with tempfile.TemporaryDirectory(prefix=f"golden-{stack}-") as tmp:
        out = Path(tmp) / stack
        if result is None:
            render(stack, out, root=root)
        else:
            write_render(result, out, stack)
        return golden_files(out)


def read_golden(stack: str, golden_dir: Path = GOLDEN_DIR) -> dict[str, str]:
    """The committed golden files of ``stack`` (empty when there are none)."""
    base = golden_dir / stack
    if not base.is_dir():
        return {}
    return {p.relative_to(base).as_posix(): p.read_text() for p in sorted(base.rglob("*")) if p.is_file()}


def diff(expected: dict[str, str], actual: dict[str, str], label: str) -> str:
    """A unified diff from ``expected`` (golden) to ``actual`` (rendered) files, "" when equal; files
    only on one side show as wholly removed or added."""
    chunks = []
    for name in sorted(set(expected) | set(actual)):
        old, new = expected.get(name), actual.get(name)
        if old == new:
            continue
        chunks.append("".join(difflib.unified_diff(
            (old or "").splitlines(keepends=True), (new or "").splitlines(keepends=True),
            fromfile=f"golden/{label}/{name}" if old is not None else "/dev/null",
            tofile=f"render/{label}/{name}" if new is not None else "/dev/null")))
    return "".join(c if c.endswith("\n") else c + "\n" for c in chunks)


def check_stack(stack: str, root: Path = PROJECT_ROOT, golden_dir: Path = GOLDEN_DIR,
                result: Optional["RunResult"] = None) -> str:
    """The diff between ``stack``'s golden files and a fresh render, or the files of ``result``
    ("" when they match)."""
    return diff(read_golden(stack, golden_dir), render_golden(stack, root, result), stack)


def update_stack(stack: str, root: Path = PROJECT_ROOT, golden_dir: Path = GOLDEN_DIR) -> Optional[str]:
    """Rewrite ``stack``'s golden files from a fresh render. Renders twice first; returns the diff
    between the two (and writes nothing) when they differ: a volatile field is not masked."""
    first, second = render_golden(stack, root), render_golden(stack, root)
    unstable = diff(first, second, stack)
    if unstable:
        return unstable
    base = golden_dir / stack
    if base.exists():
        shutil.rmtree(base)
    for name, text in first.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_text(text)
    return None


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.golden", description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="compare fresh renders with tests/golden/")
    action.add_argument("--update", action="store_true", help="rewrite tests/golden/ from fresh renders")
    parser.add_argument("stacks", nargs="*", metavar="STACK", help="example stacks (default: all)")
    args = parser.parse_args(argv)
    from components.config import ConfigError

    known = stacks()
    unknown = [s for s in args.stacks if s not in known]
    if unknown:
        print(f"error: no stack file for {', '.join(unknown)} (example stacks: {', '.join(known)})", file=sys.stderr)
        return 2
    status = 0
    for stack in args.stacks or known:
        try:
            if args.update:
                unstable = update_stack(stack)
                if unstable:
                    print(f"{stack}: two renders differ; mask the field in tools/golden.py "
                          f"(nothing written):\n{unstable}", file=sys.stderr)
                    status = 1
                else:
                    print(f"{stack}: wrote {(GOLDEN_DIR / stack).relative_to(PROJECT_ROOT)}/")
            else:
                changes = check_stack(stack)
                if changes:
                    sys.stdout.write(changes)
                    print(f"{stack}: the render differs from tests/golden/{stack}/ "
                          f"(if intended: python -m tools.golden --update {stack})")
                    status = 1
                else:
                    print(f"{stack}: matches tests/golden/{stack}/")
        except (ConfigError, FileNotFoundError) as error:
            print(f"error: stack {stack}: {error}", file=sys.stderr)
            return 2
    if not args.stacks and args.check:
        stale = sorted(p.name for p in GOLDEN_DIR.iterdir() if p.is_dir() and p.name not in known) \
            if GOLDEN_DIR.is_dir() else []
        if stale:
            print(f"tests/golden/ has renders of stacks that no longer exist: {', '.join(stale)}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
