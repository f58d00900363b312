"""Configs: dataclass trees loaded from YAML and dotted ``key=value`` overrides."""

from difflab.config.loader import apply_overrides, config_to_dict, dump_yaml, load_config, read_yaml

__all__ = ["apply_overrides", "config_to_dict", "dump_yaml", "load_config", "read_yaml"]
