"""What rules share: the index built once per run (who selects whom) and the exact traffic
algebra. Imports ``netlint.core`` and ``netlint.read``."""
