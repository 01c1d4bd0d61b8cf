"""An example netlint rule plugin (see README.md)."""
