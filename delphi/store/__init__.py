"""Adapters around the core: the study folder on disk, YAML and CSV files."""
