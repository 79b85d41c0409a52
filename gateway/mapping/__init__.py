"""Declarative mappings from each source stream to the canonical record."""

from gateway.mapping.apply import Mapped, apply_mapping
from gateway.mapping.spec import MappingSpec, load_mapping_file, mapping_for

__all__ = ["Mapped", "MappingSpec", "apply_mapping", "load_mapping_file", "mapping_for"]
