"""Reading a repository: discovery, YAML/JSON parsing with positions and limits, schema and
value checks, model building, kustomize. Imports only ``netlint.core``."""
