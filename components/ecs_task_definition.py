"""The ECS task definition of the Konnect data planes, with its certificate secret, role and logs."""

import enum


class CpuArchitecture(str, enum.Enum):
    """The CPU architecture of the Fargate tasks (ECS ``runtimePlatform.cpuArchitecture``)."""

    X86_64 = "X86_64"
    ARM64 = "ARM64"


#: Defaults of :class:`DataPlaneTaskDefinitionArgs`, the only place they are written: 1 vCPU and
#: 2 GiB, logs kept 30 days, 60 s to drain on stop (Fargate allows up to 120 s).
TASK_DEFINITION_DEFAULTS = {"cpu": 1024, "memory": 2048, "cpu_architecture": CpuArchitecture.X86_64,
                            "log_retention_days": 30, "stop_timeout_seconds": 60}
