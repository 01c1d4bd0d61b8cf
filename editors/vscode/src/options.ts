// What the extension tells the client library and the server, as plain data (no `vscode`
// import, so the unit tests check it under plain node).

/** The documents netlint lints: YAML and JSON manifests on disk. */
export const DOCUMENT_SELECTOR = [
  { scheme: "file", language: "yaml" },
  { scheme: "file", language: "json" },
] as const;

/** The server's default, netlint.integrations.lsp.server.DEBOUNCE_SECONDS. */
export const DEFAULT_DEBOUNCE_MS = 300;

/**
 * `initializationOptions` for `netlint lsp`: the server reads `debounceMs` (a number of
 * milliseconds, at least 0) and ignores anything else.
 */
export function initializationOptions(debounceMs: unknown): { debounceMs: number } {
  const value = typeof debounceMs === "number" && Number.isFinite(debounceMs) ? debounceMs : DEFAULT_DEBOUNCE_MS;
  return { debounceMs: Math.max(0, value) };
}

/** `netlint.args` as the server gets it: strings only (a settings file can hold anything). */
export function extraArgs(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

/** The settings whose change needs a new server (they are read once, when it starts). */
export const RESTART_SETTINGS = ["netlint.path", "netlint.interpreter", "netlint.args", "netlint.debounceMs"] as const;
