"""The ECS service of the Konnect data planes, with its cluster, capacity providers and scaling."""

#: Defaults of :class:`DataPlaneServiceArgs`, the only place they are written: two tasks (two
#: zones), scaling between 2 and 6 at 60 % CPU, all on FARGATE, 60 s of load balancer grace.
SERVICE_DEFAULTS = {"desired_count": 2, "min_count": 2, "max_count": 6, "cpu_target_percent": 60,
                    "fargate_spot_percent": 0, "health_check_grace_period_seconds": 60}
