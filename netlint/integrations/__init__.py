"""Where users meet netlint: the command line (also what pre-commit runs) and the language
server."""
