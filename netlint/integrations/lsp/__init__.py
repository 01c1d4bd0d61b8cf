"""``netlint lsp``: a Language Server (stdio) that publishes netlint's findings as diagnostics.

The project is read once, when the client initializes, from its root URI or workspace folders
(the config file and project root are found as ``netlint check`` finds them). After that an
edit costs one file: the edited buffer replaces that file in the project's Workspace and only
the open documents are linted, still against the whole project, because a workload edit can
change NL102 on an open policy file.

``server`` holds the protocol: the pygls handlers, the debounce, and the one worker thread every
project operation runs in. ``projects`` holds what that thread does: finding each document's
project, loading it, re-linting, and turning findings into diagnostics, with positions counted
by netlint.core.source.LineIndex.
"""

from netlint.integrations.lsp.server import main

__all__ = ["main"]
