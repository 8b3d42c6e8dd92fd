"""The kong-aws component package: the public components, served to Pulumi programs in any language.

Pulumi runs this file (``python <this folder> <engine address> ...``, PulumiPlugin.yaml
``runtime: python``) when a program that uses the package previews or deploys, or when
``pulumi package add`` / ``pulumi package get-schema`` reads its schema. It is not the Pulumi
program of this repository (``../__main__.py``): it declares nothing itself.
As ``component_provider_host`` (pulumi/provider/experimental/host.py) would, it serves a
``ComponentProvider``: Pulumi's component analyzer infers the schema from each component's Args
TypedDict and ``pulumi.Output`` attributes, and the provider answers the engine's ``GetSchema``
and ``Construct`` calls; a program's ``kong-aws:index:<Class>`` resource is built by the Python
class of that name, its inputs mapped to the Python names and enums (:class:`KongAwsProvider`
fixes the integers).

``components`` comes from the installed ``kong-aws`` distribution (requirements.txt installs the
folder above into this plugin's virtualenv).
"""

import functools
import inspect
import json
import sys
import tomllib
import typing
from pathlib import Path
from typing import Any, Optional

import pulumi
from pulumi.errors import InputPropertyError
from pulumi.provider import main
from pulumi.provider.experimental.analyzer import Analyzer, PropertyDefinition, PropertyType
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.experimental.schema import generate_schema

from components.certificates import ClusterCertificate
from components.ecs_service import DataPlaneService
from components.ecs_task_definition import DataPlaneTaskDefinition
from components.eks_cluster import EksCluster
from components.gateway_sync import GatewaySync
from components.hybrid_eks import HybridEksGateway
from components.image_source import ImageSource
from components.kong_hybrid import KongHybrid
from components.konnect_ecs import KonnectEcsGateway
from components.konnect_entities import KonnectGatewayConfiguration
from components.metrics_agent import PodMetricsAccess
from components.monitoring import GatewayMonitoring
from components.network import Network
from components.package import PACKAGE
from components.postgres import Postgres
from components.proxy_load_balancer import ProxyLoadBalancer

#: The public components, the package's resources ``kong-aws:index:<Class>``: the top level of each
#: mode first, then the parts they are built from (each usable on its own).
COMPONENTS: list[type[pulumi.ComponentResource]] = [
    KonnectEcsGateway, HybridEksGateway,
    Network, ClusterCertificate, ProxyLoadBalancer, DataPlaneTaskDefinition, DataPlaneService,
    EksCluster, Postgres, KongHybrid, ImageSource,
    GatewayMonitoring, PodMetricsAccess, GatewaySync, KonnectGatewayConfiguration,
]


def package_version() -> str:
    """The package version: ``[project].version`` of ../pyproject.toml (the schema's ``version``,
    which the SDKs Pulumi generates take)."""
    pyproject = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    return str(pyproject["project"]["version"])


class KongAwsProvider(ComponentProvider):
    """Pulumi's component provider, with integer inputs handed to the components as ``int`` and
    the descriptions of inherited Args fields in the schema.

    The Args of several components extend the settings a user chooses (``ProxyLoadBalancerArgs``
    extends ``LoadBalancerSettings``), so that each setting is declared once. The analyzer reads a
    field's docstring only from the source of the class it analyses, not from its bases
    (``Analyzer.get_docstring``): the fields a class inherits would reach the generated SDKs
    undocumented. :meth:`_describe_inherited` looks each missing one up along the class's MRO.

    Numbers cross the wire as floats. The pinned SDK's ``ComponentProvider.map_input_properties``
    converts an integer property with ``int()`` and then overwrites the result with the float it
    received (pulumi/provider/experimental/component.py, pulumi 3.272.0), so ``cpu: 512`` from
    another language would reach the components as ``512.0`` (and a zone count as a float breaks a
    slice); and its ``int()`` fails outright on an output (a secret, or another resource's output).
    This converts what it left, and converts an output's value when it resolves (it stays a secret
    if it was one); a value that is not a whole number is refused. tests/test_component_package.py
    notices when the SDK no longer needs it.
    """

    def __init__(self, components: list[type[pulumi.ComponentResource]], name: str,
                 namespace: Optional[str] = None, version: str = "0.0.0") -> None:
        super().__init__(components, name, namespace, version)
        self._describe_inherited(namespace, version)

    def _describe_inherited(self, namespace: Optional[str], version: str) -> None:
        lookup = Analyzer(self._name)

        def describe(properties: dict[str, PropertyDefinition], mapping: dict[str, str], python_type: type) -> None:
            for schema_name, prop in properties.items():
                if prop.description is None:
                    found = (lookup.get_docstring(cls, mapping[schema_name]) for cls in _lineage(python_type))
                    prop.description = next((doc for doc in found if doc), None)

        for definition in self._component_defs.values():
            args_type = inspect.get_annotations(self._components[definition.name].__init__)["args"]
            describe(definition.inputs, definition.inputs_mapping, args_type)
        for type_definition in self._type_defs.values():
            if type_definition.properties:
                describe(type_definition.properties, type_definition.properties_mapping, type_definition.python_type)
        schema = generate_schema(self._name, version, namespace, self._component_defs, self._type_defs,
                                 self._dependencies)
        self.schema = json.dumps(schema.to_json())

    def map_input_properties(self, inputs: Any, properties: dict[str, PropertyDefinition],
                             mapping: dict[str, str], component_name: str, property_path: str) -> Any:
        # The SDK calls this for each nested object too, so every level passes here.
        outputs = {name: value for name, value in (inputs.items() if isinstance(inputs, dict) else ())
                   if name in properties and properties[name].type is PropertyType.INTEGER
                   and isinstance(value, pulumi.Output)}
        if outputs:
            inputs = {**inputs, **{name: 0.0 for name in outputs}}  # stand-ins for the SDK's int()
        mapped: dict[str, Any] = dict(
            super().map_input_properties(inputs, properties, mapping, component_name, property_path))
        for name, output in outputs.items():
            path = f"{property_path}.{name}" if property_path else name
            mapped[mapping[name]] = output.apply(functools.partial(_whole, path=path, component_name=component_name))
        for schema_name, prop in properties.items():
            if schema_name in outputs:
                continue
            python_name = mapping[schema_name]
            value = mapped.get(python_name)
            path = f"{property_path}.{schema_name}" if property_path else schema_name
            if prop.type is PropertyType.INTEGER and value is not None:
                mapped[python_name] = _whole(value, path, component_name)
            elif (prop.type is PropertyType.ARRAY and prop.items is not None
                  and prop.items.type is PropertyType.INTEGER and isinstance(value, list)):
                mapped[python_name] = [_whole(item, f"{path}[{index}]", component_name)
                                       for index, item in enumerate(value)]
        return mapped


def _lineage(cls: type) -> list[type]:
    """``cls`` and the TypedDicts of the ``components`` package it may have been declared from:
    those whose every key it has. (At run time a TypedDict keeps no trace of its TypedDict bases:
    its ``__bases__`` are ``(dict,)``, and Python 3.11 records no ``__orig_bases__`` for it.)"""
    keys = set(getattr(cls, "__annotations__", {}))
    bases = [obj for name, module in sorted(sys.modules.items()) if name.startswith("components.")
             for obj in vars(module).values()
             if typing.is_typeddict(obj) and obj is not cls and obj.__module__ == name
             and set(obj.__annotations__) <= keys]
    return [cls, *bases]


def _whole(value: Any, path: str, component_name: str) -> Any:
    """``value`` as an ``int`` when it is a float with no fraction; outputs pass unchanged."""
    if not isinstance(value, float):
        return value
    if not value.is_integer():
        raise InputPropertyError(path, f"'{path}' on '{component_name}' must be a whole number, got {value}")
    return int(value)


if __name__ == "__main__":
    # What `component_provider_host(components=COMPONENTS, name=PACKAGE, ...)` does, with the
    # provider above: serve the engine over gRPC (`python <this folder> <engine address>`).
    main(KongAwsProvider(COMPONENTS, PACKAGE, version=package_version()), sys.argv[1:])
