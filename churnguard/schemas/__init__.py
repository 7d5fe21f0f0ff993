"""Bundled table schemas (YAML): original.yaml (the default) and telco.yaml."""
