// Which command starts the netlint language server: a pure function of the settings, the
// workspace's trust, what the Python extension reports and what exists on disk, so that every
// branch is unit-tested under plain node (VS Code itself is not needed: see src/test/).
//
// Order: `netlint.path`, then `netlint.interpreter` (both as the user set them), then, in a
// trusted workspace only, the Python extension's selected interpreter and the workspace's
// `.venv`, when netlint is installed beside them; else `netlint` on PATH. The workspace's own
// interpreters are code from the repository: running them needs the user's trust.

import * as path from "node:path";

/** A setting as `WorkspaceConfiguration.inspect` reports it (the levels we read). */
export interface Inspected<T> {
  readonly defaultValue?: T | undefined;
  readonly globalValue?: T | undefined;
  readonly workspaceValue?: T | undefined;
  readonly workspaceFolderValue?: T | undefined;
}

/**
 * The value in force, ignoring the workspace's levels when the workspace is not trusted. VS Code
 * already drops them for the settings the manifest lists in `restrictedConfigurations`; doing it
 * here too keeps the promise if that list and the code ever drift apart.
 */
export function effective<T>(inspected: Inspected<T> | undefined, trusted: boolean): T | undefined {
  if (inspected === undefined) {
    return undefined;
  }
  if (trusted) {
    return inspected.workspaceFolderValue ?? inspected.workspaceValue ?? inspected.globalValue ?? inspected.defaultValue;
  }
  return inspected.globalValue ?? inspected.defaultValue;
}

export interface Settings {
  /** `netlint.path`: a netlint executable. */
  readonly path: string;
  /** `netlint.interpreter`: a Python interpreter with netlint installed. */
  readonly interpreter: string;
  /** `netlint.args`: extra arguments after `lsp`. */
  readonly args: readonly string[];
}

export interface Environment {
  readonly trusted: boolean;
  /** The workspace folders' file-system paths, first one first. */
  readonly folders: readonly string[];
  /** The Python extension's selected interpreter, when its API is available. */
  readonly pythonInterpreter?: string | undefined;
  readonly home: string;
  /** The PATH variable VS Code's extension host sees. */
  readonly searchPath: string;
  readonly platform: NodeJS.Platform;
  /** Whether a regular file exists at this absolute path (injected: tests use a fake disk). */
  readonly isFile: (file: string) => boolean;
}

export type Origin = "netlint.path" | "netlint.interpreter" | "python-extension" | "workspace-venv" | "PATH";

export interface ServerCommand {
  readonly found: true;
  readonly command: string;
  readonly args: string[];
  /** Where the server runs: the first workspace folder when trusted, else the home folder. */
  readonly cwd: string;
  readonly origin: Origin;
  /** Why the earlier candidates were passed over, for the output channel. */
  readonly notes: string[];
}

export interface NotFound {
  readonly found: false;
  readonly notes: string[];
}

function pathApi(platform: NodeJS.Platform): path.PlatformPath {
  return platform === "win32" ? path.win32 : path.posix;
}

/** `${workspaceFolder}`, `${userHome}` and a leading `~`, as VS Code users write paths. */
export function expand(value: string, env: Pick<Environment, "folders" | "home">): string | undefined {
  let out = value.trim();
  if (out === "") {
    return undefined;
  }
  if (out === "~" || out.startsWith("~/") || out.startsWith("~\\")) {
    out = env.home + out.slice(1);
  }
  out = out.replace(/\$\{userHome\}/g, env.home);
  if (out.includes("${workspaceFolder}")) {
    const folder = env.folders[0];
    if (folder === undefined) {
      return undefined; // nothing to expand it to: the setting cannot be used
    }
    out = out.replace(/\$\{workspaceFolder\}/g, folder);
  }
  return out;
}

/** Whether `file` is one of the folders or lies below one (compared after normalising). */
export function inside(file: string, folders: readonly string[], platform: NodeJS.Platform): boolean {
  const p = pathApi(platform);
  const fold = (s: string): string => (platform === "win32" ? s.toLowerCase() : s);
  const target = fold(p.resolve(file));
  return folders.some((folder) => {
    const root = fold(p.resolve(folder));
    const rel = p.relative(root, target);
    return rel === "" || (!rel.startsWith("..") && !p.isAbsolute(rel));
  });
}

/** The netlint console script installed beside an interpreter (same bin/ or Scripts/). */
export function scriptBeside(interpreter: string, platform: NodeJS.Platform): string {
  const p = pathApi(platform);
  return p.join(p.dirname(interpreter), platform === "win32" ? "netlint.exe" : "netlint");
}

/** A workspace folder's `.venv` interpreter. */
export function venvInterpreter(folder: string, platform: NodeJS.Platform): string {
  const p = pathApi(platform);
  return platform === "win32"
    ? p.join(folder, ".venv", "Scripts", "python.exe")
    : p.join(folder, ".venv", "bin", "python");
}

/**
 * A program on PATH (`netlint`, or a bare name in a setting), as an absolute path. Looked up
 * here rather than by the OS because Windows searches the current folder before PATH, and a
 * relative PATH entry (`.`, `bin`) is relative to the current folder too: both would run a
 * `netlint` the repository ships. Relative entries are skipped always, entries inside an
 * untrusted workspace too.
 */
export function findOnPath(program: string, env: Environment): string | undefined {
  const p = pathApi(env.platform);
  const separator = env.platform === "win32" ? ";" : ":";
  const exe = env.platform === "win32" && !program.toLowerCase().endsWith(".exe");
  const name = exe ? `${program}.exe` : program;
  for (const entry of env.searchPath.split(separator)) {
    if (entry === "" || !p.isAbsolute(entry)) {
      continue;
    }
    if (!env.trusted && inside(entry, env.folders, env.platform)) {
      continue;
    }
    const candidate = p.join(entry, name);
    if (env.isFile(candidate)) {
      return candidate;
    }
  }
  return undefined;
}

// `-P` (Python 3.11+, which netlint needs anyway): do not put the current folder on sys.path,
// so a `netlint/` package in the folder the server starts in is never imported instead.
const MODULE = ["-P", "-m", "netlint", "lsp"];

export function resolveServer(settings: Settings, env: Environment): ServerCommand | NotFound {
  const extra = [...settings.args];
  const notes: string[] = [];
  const cwd = env.trusted && env.folders[0] !== undefined ? env.folders[0] : env.home;
  const found = (command: string, args: string[], origin: Origin): ServerCommand => ({
    found: true,
    command,
    args: [...args, ...extra],
    cwd,
    origin,
    notes,
  });
  // The user's settings (in an untrusted workspace only the user-level ones reach here), unless
  // they point into an untrusted workspace: `${workspaceFolder}/.venv/bin/python` in the user
  // settings is a fine default for one's own repositories and code from a stranger's.
  const configured: Array<[Origin, string, string[]]> = [
    ["netlint.path", settings.path, ["lsp"]],
    ["netlint.interpreter", settings.interpreter, MODULE],
  ];
  for (const [origin, value, args] of configured) {
    const command = expand(value, env);
    if (command === undefined) {
      if (value.trim() !== "") {
        notes.push(`${origin}: ${value} names \${workspaceFolder} but no folder is open`);
      }
      continue;
    }
    const bare = !/[\\/]/.test(command);
    const program = bare ? findOnPath(command, env) : command;
    if (program === undefined) {
      notes.push(`${origin}: ${command} is not on PATH`);
      continue;
    }
    if (!env.trusted && (!pathApi(env.platform).isAbsolute(program) || inside(program, env.folders, env.platform))) {
      notes.push(`${origin}: ${program} is in the untrusted workspace (or relative to it): not run`);
      continue;
    }
    return found(program, args, origin);
  }
  const discovered: Array<[Origin, string]> = [];
  if (!env.trusted) {
    notes.push("the workspace is not trusted: its interpreters (the Python extension's choice, .venv) are not run");
  } else {
    if (env.pythonInterpreter) {
      discovered.push(["python-extension", env.pythonInterpreter]);
    }
    for (const folder of env.folders) {
      discovered.push(["workspace-venv", venvInterpreter(folder, env.platform)]);
    }
  }
  for (const [origin, candidate] of discovered) {
    // An interpreter without netlint would start and die at once ("No module named netlint");
    // its console script beside it says netlint is installed there, without running anything.
    if (!env.isFile(candidate)) {
      notes.push(`${origin}: ${candidate} does not exist`);
    } else if (!env.isFile(scriptBeside(candidate, env.platform))) {
      notes.push(`${origin}: netlint is not installed beside ${candidate}`);
    } else {
      return found(candidate, MODULE, origin);
    }
  }
  const onPath = findOnPath("netlint", env);
  if (onPath !== undefined) {
    return found(onPath, ["lsp"], "PATH");
  }
  notes.push("PATH: no netlint executable found");
  return { found: false, notes };
}
