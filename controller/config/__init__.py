"""What the suite's YAML configuration files share: the VLAN/ACL policy
(controller/vswitch) and the arbiter's policy (controller/arbiter/policy.py) are both
read with :mod:`controller.config.yaml_source`, checked against a JSON Schema made with
:mod:`controller.config.schema`, and refused with a :class:`ConfigError` that lists
every problem at its ``file:line:col: key.path``."""

from controller.config.errors import ConfigError, ConfigIssue

__all__ = ['ConfigError', 'ConfigIssue']
