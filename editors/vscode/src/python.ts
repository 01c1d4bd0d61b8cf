// The interpreter the Python extension (ms-python.python) has selected for a folder, read from
// its public API without importing its npm package: the extension's exports are typed here as
// far as netlint uses them, and every step is checked because another version may differ.

/** The part of the Python extension's API netlint reads (its `environments` API). */
export interface PythonApi {
  readonly environments?: {
    getActiveEnvironmentPath?: (resource?: unknown) => { readonly path?: unknown } | undefined;
    resolveEnvironment?: (
      environment: unknown,
    ) => Promise<{ readonly executable?: { readonly uri?: { readonly fsPath?: unknown } | undefined } } | undefined>;
  };
  /** The older API, still exported: `execCommand[0]` is the interpreter. */
  readonly settings?: {
    getExecutionDetails?: (resource?: unknown) => { readonly execCommand?: unknown } | undefined;
  };
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}

/**
 * The selected interpreter's executable for `resource` (a folder's URI), or undefined when the
 * API is missing, answers something unexpected, or throws: discovery then goes on without it.
 */
export async function selectedInterpreter(api: unknown, resource: unknown): Promise<string | undefined> {
  if (typeof api !== "object" || api === null) {
    return undefined;
  }
  const { environments, settings } = api as PythonApi;
  try {
    const active = environments?.getActiveEnvironmentPath?.(resource);
    if (active !== undefined && environments?.resolveEnvironment !== undefined) {
      // `path` is the interpreter for most environments but a folder for some (a conda
      // environment without Python): the resolved executable is what to run.
      const resolved = await environments.resolveEnvironment(active);
      const executable = nonEmpty(resolved?.executable?.uri?.fsPath);
      if (executable !== undefined) {
        return executable;
      }
    }
    const command = settings?.getExecutionDetails?.(resource)?.execCommand;
    if (Array.isArray(command)) {
      return nonEmpty(command[0]);
    }
  } catch {
    return undefined;
  }
  return undefined;
}
