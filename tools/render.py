"""Render a stack offline: ``python -m tools.render STACK [--out DIR]``.

Reads ``Pulumi.yaml`` and ``Pulumi.STACK.yaml`` (``secure:`` values, and a Konnect token left to
``KONNECT_TOKEN``, become placeholder secrets),
runs the real program under Pulumi's mock runtime with a deterministic fake cloud
(:mod:`tools.mocks`), and writes to DIR (default ``build/STACK``):

- ``resources.json``: one object per registered resource: ``urn``, ``type``, ``name``, ``parent``,
  ``custom``, ``inputs`` (camelCase, as the engine receives them) and ``dependencies``;
- ``outputs.json``: the stack outputs;
- ``ecs/<family>.json``: each ECS task definition as ``aws ecs register-task-definition
  --cli-input-json`` takes it;
- ``helm/<release>.values.yaml``: each Helm release's values, as ``helm install -f`` takes them.

Every secret value is written as ``"[secret]"``. Prints a table of resource types and counts.
Invalid config: prints the error, writes nothing, exits with status 2. Nothing is deployed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

import yaml

from components.config import NAMESPACE, OFFLINE_SECRET_PLACEHOLDER, TOKEN_ENV, ConfigError, load_stack_config
from tools.mocks import PROJECT_ROOT, SECRET_MASK, RunResult, mask_secrets, run_program

#: TaskDefinition inputs that ``RegisterTaskDefinition`` takes under the same name.
_TASK_DEFINITION_FIELDS = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions",
                           "volumes", "placementConstraints", "requiresCompatibilities", "cpu", "memory",
                           "pidMode", "ipcMode", "proxyConfiguration", "ephemeralStorage", "runtimePlatform",
                           "enableFaultInjection")


def _config_text(value: Any) -> tuple[str, bool]:
    """A stack file value as Pulumi hands it to the program: (text, is_secret)."""
    secret = False

    def walk(item: Any) -> Any:
        nonlocal secret
        if isinstance(item, dict):
            if set(item) == {"secure"}:
                secret = True
                return OFFLINE_SECRET_PLACEHOLDER
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        return item

    plain = walk(value)
    if isinstance(plain, str):
        return plain, secret
    if isinstance(plain, bool):
        return ("true" if plain else "false"), secret
    if isinstance(plain, (int, float)):
        return str(plain), secret
    return json.dumps(plain, default=str), secret  # YAML dates and times as their text


def _yaml_mapping(path: Path, key: Optional[str] = None) -> dict:
    """``path``'s YAML document as a mapping, with its ``key`` entry (when given) a mapping too.

    Raises :class:`ConfigError` naming the file and line for a YAML syntax error (tabs included)
    or a document or ``key:`` that is not a mapping. An empty document or ``key:`` is ``{}``."""
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        hint = " (YAML indents with spaces, never tabs)" if "'\\t'" in problem else ""
        raise ConfigError([f"{path.name}{where}: not valid YAML: {problem}{hint}"]) from None
    if data is None:
        data = {}
    elif not isinstance(data, dict):
        raise ConfigError([f"{path.name}, line {node.start_mark.line + 1}: the file must be a mapping of keys "
                           f"(such as config:), not {_yaml_kind(data)}"])
    if key is not None:
        value = data.get(key)
        if value is None:
            data[key] = {}
        elif not isinstance(value, dict):
            line = next(v.start_mark.line for k, v in node.value if k.value == key)
            raise ConfigError([f"{path.name}, line {line + 1}: {key}: must be a mapping of keys to values "
                               f"(kong-aws:kong: ...), not {_yaml_kind(value)}"])
    return data


def _yaml_kind(value: Any) -> str:
    return {list: "a list", str: "text", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__)


def read_stack_config(stack: str, root: Path = PROJECT_ROOT) -> tuple[dict[str, str], set[str], str]:
    """Read ``Pulumi.yaml`` and ``Pulumi.<stack>.yaml`` under ``root`` as the Pulumi CLI would.

    Returns ``(config, secret_keys, project)``: full keys (``kong-aws:ecs``) to the text values the
    program receives, with the project's declared defaults applied; the keys set with
    ``secure:`` (their values are :data:`OFFLINE_SECRET_PLACEHOLDER`). Raises ``FileNotFoundError``
    when the stack file does not exist, and :class:`ConfigError` naming the file and line when a
    file is not valid YAML or its document or ``config:`` is not a mapping.
    """
    project_file = _yaml_mapping(root / "Pulumi.yaml", "config")
    project = project_file["name"]
    stack_path = root / f"Pulumi.{stack}.yaml"
    if not stack_path.exists():
        raise FileNotFoundError(f"no stack file {stack_path.name}")
    stack_file = _yaml_mapping(stack_path, "config")
    config: dict[str, str] = {}
    secret_keys: set[str] = set()
    for key, spec in project_file["config"].items():
        full = key if ":" in str(key) else f"{project}:{key}"
        if isinstance(spec, dict) and "default" in spec:
            config[full] = _config_text(spec["default"])[0]
    for key, value in stack_file["config"].items():
        full = key if ":" in str(key) else f"{project}:{key}"
        text, secret = _config_text(value)
        config[full] = text
        if secret:
            secret_keys.add(full)
    return config, secret_keys, project


def validate(config: dict[str, str], secret_keys: set[str]) -> None:
    """Run the program's own config check on ``config``; raises ``ConfigError``."""
    prefix = f"{NAMESPACE}:"
    raw = {k[len(prefix):]: v for k, v in config.items() if k.startswith(prefix)}
    load_stack_config(raw, {k[len(prefix):] for k in secret_keys if k.startswith(prefix)},
                      region=config.get("aws:region"), env_token=os.environ.get(TOKEN_ENV))


def task_definition_document(inputs: dict) -> dict:
    """A TaskDefinition's engine inputs as ``register-task-definition --cli-input-json`` input."""
    doc = {}
    for field in _TASK_DEFINITION_FIELDS:
        if field in inputs and inputs[field] is not None:
            doc[field] = inputs[field]
    if isinstance(doc.get("containerDefinitions"), str):
        doc["containerDefinitions"] = json.loads(doc["containerDefinitions"])
    if inputs.get("tags"):
        doc["tags"] = [{"key": k, "value": v} for k, v in sorted(inputs["tags"].items())]
    return doc


def whole_numbers(value: Any) -> Any:
    """``value`` with whole-number floats as ints (the engine's wire format carries doubles)."""
    # The engine's wire format (protobuf Struct) carries every number as a double; whole numbers
    # are written as integers so the files read as the program wrote them.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers(v) for v in value]
    return value


HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


def helm_values_document(inputs: dict) -> str:
    """A Helm release's values as a values file (YAML), headed by the chart, version and
    repository it installs, the form ``helm install -f`` (or an Argo CD Application) takes."""
    repo = (inputs.get("repositoryOpts") or {}).get("repo", "")
    head = (f"# Helm release {inputs['name']} in namespace {inputs.get('namespace', 'default')}: chart "
            f"{inputs.get('chart')} {inputs.get('version')} from {repo}\n")
    return head + yaml.safe_dump(inputs.get("values") or {}, sort_keys=True, default_flow_style=False)


def resources_document(result: RunResult) -> list[dict]:
    """``resources.json``: one object per registration, secrets masked, dependencies sorted."""
    return [{
        "urn": r.urn, "type": r.type, "name": r.name, "parent": r.parent, "custom": r.custom,
        "inputs": whole_numbers(mask_secrets(r.inputs)), "dependencies": sorted(r.dependencies),
    } for r in result.registrations]


def outputs_document(result: RunResult) -> dict:
    """``outputs.json``: stack outputs, secrets masked."""
    return {k: (SECRET_MASK if secret else whole_numbers(mask_secrets(v)))
            for k, (v, secret) in sorted(result.outputs.items())}


def run_stack(stack: str, root: Path = PROJECT_ROOT, replaced: Optional[Mapping[str, str]] = None) -> RunResult:
    """Run the program of ``stack`` under the mocks, as :func:`render` does, and return what it
    registered; ``replaced`` (full keys to config text) stands in for those keys of the stack file.
    Raises ``ConfigError`` for bad config, before anything is declared."""
    config, secret_keys, project = read_stack_config(stack, root)
    config.update(replaced or {})
    # A managed Konnect control plane may take its token from KONNECT_TOKEN; offline, a placeholder
    # stands in for it as for every other secret.
    saved = os.environ.get(TOKEN_ENV)
    os.environ[TOKEN_ENV] = saved or OFFLINE_SECRET_PLACEHOLDER
    try:
        validate(config, secret_keys)
        return run_program(root / "__main__.py", config, secret_keys, project=project, stack=stack)
    finally:
        if saved is None:
            del os.environ[TOKEN_ENV]


def render(stack: str, out: Path, root: Path = PROJECT_ROOT) -> RunResult:
    """Render ``stack`` into ``out`` (replaced whole). Raises ``ConfigError`` for bad config,
    before anything is written."""
    return write_render(run_stack(stack, root), out, stack)


def write_render(result: RunResult, out: Path, stack: str) -> RunResult:
    """Write the files of one render (see the module docstring) into ``out``, replaced whole."""
    staging = Path(tempfile.mkdtemp(prefix=f"render-{stack}-"))
    try:
        (staging / "resources.json").write_text(json.dumps(resources_document(result), indent=2) + "\n")
        (staging / "outputs.json").write_text(json.dumps(outputs_document(result), indent=2) + "\n")
        for reg in result.of_type("aws:ecs/taskDefinition:TaskDefinition"):
            doc = task_definition_document(whole_numbers(mask_secrets(reg.inputs)))
            (staging / "ecs").mkdir(exist_ok=True)
            (staging / "ecs" / f"{doc['family']}.json").write_text(json.dumps(doc, indent=2) + "\n")
        for reg in result.of_type(HELM_RELEASE):
            inputs = whole_numbers(mask_secrets(reg.inputs))
            (staging / "helm").mkdir(exist_ok=True)
            (staging / "helm" / f"{inputs['name']}.values.yaml").write_text(helm_values_document(inputs))
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), str(out))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def type_table(result: RunResult) -> str:
    """A table of resource types and their counts, widest type first column."""
    counts = Counter(r.type for r in result.registrations)
    width = max(len(t) for t in counts)
    lines = [f"{'TYPE'.ljust(width)}  COUNT"]
    lines += [f"{t.ljust(width)}  {n:5d}" for t, n in sorted(counts.items())]
    lines.append(f"{'total'.ljust(width)}  {sum(counts.values()):5d}")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.render", description=__doc__.split("\n\n")[0])
    parser.add_argument("stack", help="stack name: renders Pulumi.<stack>.yaml")
    parser.add_argument("--out", type=Path, help="output folder (default build/<stack>)")
    args = parser.parse_args(argv)
    out = args.out if args.out is not None else PROJECT_ROOT / "build" / args.stack
    try:
        result = render(args.stack, out, root=PROJECT_ROOT)
    except ConfigError as error:
        print(f"error: stack {args.stack}: {error}", file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(type_table(result))
    extra = [d for d in ("ecs", "helm") if (out / d).is_dir()]
    print(f"\nwrote {out}/: resources.json, outputs.json" + "".join(f", {d}/" for d in extra)
          + " (offline render; nothing was deployed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
