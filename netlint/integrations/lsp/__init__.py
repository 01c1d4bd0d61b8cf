"""``netlint lsp``: a Language Server (stdio) that publishes netlint's findings as diagnostics.

Each document belongs to the project ``netlint check FILE`` would find (the nearest config
file, else the git work tree, else the workspace folder; a file outside all of them is linted
alone), read once, when the client initializes or when its first document opens. After that
an edit costs one file: the edited buffer replaces that file in the project's Workspace and
only the open documents are linted, still against the whole project, because a workload edit
can change NL102 on an open policy file. An edit that changes no YAML token (a comment on its
line) costs no lint at all.

``server`` holds the protocol: the pygls handlers, the debounce, the gathering of what the
client told into one sync at a time (a newer edit supersedes queued and running work), and
the one worker thread every project operation runs in. ``projects`` holds what that thread
does: finding each document's project, loading it, re-linting, and turning findings into
diagnostics, with positions counted by netlint.core.source.LineIndex.
"""

from netlint.integrations.lsp.server import main

__all__ = ["main"]
