"""The repository's promises: the README's commands are the ones CI runs, dependencies are pinned,
and the README's config reference names every key the config model accepts."""

from __future__ import annotations

import re

from components import config
from tools.mocks import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()


def _fenced_commands() -> list[str]:
    return [line.strip() for block in re.findall(r"```bash\n(.*?)```", README, re.S)
            for line in block.splitlines() if line.strip()]


def test_ci_runs_the_readme_test_command():
    test_command = next(c for c in _fenced_commands() if c.endswith("-m pytest"))
    ci = (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci
    assert any(c.endswith("-m tools.render dev") for c in _fenced_commands())


def test_dependencies_are_pinned():
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (PROJECT_ROOT / name).read_text().splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "-r ")):
                assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-]+", line), f"{name}: {line}"


def test_readme_documents_every_config_key():
    sections = {"kong": config.KongConfig, "konnect": config.KonnectConfig,
                "certificate": config.CertificateConfig, "network": config.NetworkConfig,
                "ecs": config.EcsConfig, "loadBalancer": config.LoadBalancerConfig,
                "eks": config.EksConfig, "hybrid": config.HybridConfig, "postgres": config.PostgresConfig}
    missing = []
    for section, model in sections.items():
        for name, field in model.model_fields.items():
            key = f"kong-aws:{section}.{field.alias or name}"
            if key not in README and not re.search(rf"`kong-aws:{section}\.\w+` / `{field.alias or name}`", README):
                missing.append(key)
    for key in sorted(config.KNOWN_KEYS - set(sections)):
        if f"`kong-aws:{key}`" not in README:
            missing.append(f"kong-aws:{key}")
    assert missing == []


def test_license_is_apache_2():
    text = (PROJECT_ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0" in text
