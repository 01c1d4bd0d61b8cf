"""netlint's built-in rules, one per module, registered in pyproject.toml's ``netlint.rules``."""
