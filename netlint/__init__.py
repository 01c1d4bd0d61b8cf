"""netlint: a static analyser for Kubernetes NetworkPolicies."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("netlint")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
