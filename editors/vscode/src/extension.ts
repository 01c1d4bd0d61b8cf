// The VS Code side of netlint: start `netlint lsp` (stdio) with the command src/resolve.ts picks,
// for the YAML and JSON documents src/options.ts selects, and restart it when what picked it
// changes (its settings, the workspace's trust, the Python extension's interpreter).
//
// The decisions live in modules without a `vscode` import, unit-tested under node; this file
// is the wiring, which only VS Code can run.

import * as fs from "node:fs";
import * as os from "node:os";
import * as vscode from "vscode";
import {
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

import { DOCUMENT_SELECTOR, RESTART_SETTINGS, extraArgs, initializationOptions } from "./options";
import { selectedInterpreter } from "./python";
import { effective, resolveServer, type Origin } from "./resolve";

const PYTHON_EXTENSION = "ms-python.python";
/** How long to wait for the Python extension to activate before discovery goes on without it. */
const PYTHON_TIMEOUT_MS = 10_000;

let client: LanguageClient | undefined;
let origin: Origin | undefined;
let output: vscode.OutputChannel;
// Restarts are chained: a burst of setting changes must not start two servers at once.
let queue: Promise<void> = Promise.resolve();

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function setting<T>(key: string): T | undefined {
  const inspected = vscode.workspace.getConfiguration("netlint").inspect<T>(key);
  return effective(inspected, vscode.workspace.isTrusted);
}

async function pythonApi(): Promise<unknown> {
  const extension = vscode.extensions.getExtension(PYTHON_EXTENSION);
  if (extension === undefined) {
    return undefined;
  }
  if (extension.isActive) {
    return extension.exports;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), PYTHON_TIMEOUT_MS);
  });
  try {
    return await Promise.race([Promise.resolve(extension.activate()), timeout]);
  } catch (error) {
    output.appendLine(`the Python extension failed to activate: ${String(error)}`);
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

async function start(context: vscode.ExtensionContext): Promise<void> {
  const trusted = vscode.workspace.isTrusted;
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === "file");
  // The Python extension is not even asked in an untrusted workspace: its answer would be
  // passed over anyway (resolve.ts), and asking activates it.
  const api = trusted ? await pythonApi() : undefined;
  const pythonInterpreter = api === undefined ? undefined : await selectedInterpreter(api, folders[0]?.uri);
  const resolved = resolveServer(
    {
      path: setting<string>("path") ?? "",
      interpreter: setting<string>("interpreter") ?? "",
      args: extraArgs(setting<unknown>("args")),
    },
    {
      trusted,
      folders: folders.map((f) => f.uri.fsPath),
      pythonInterpreter,
      home: os.homedir(),
      searchPath: process.env["PATH"] ?? "",
      platform: process.platform,
      isFile,
    },
  );
  for (const note of resolved.notes) {
    output.appendLine(note);
  }
  if (!resolved.found) {
    const choice = await vscode.window.showErrorMessage(
      "netlint: no netlint to start. Install it (pip install netlint) in the workspace's .venv or on PATH, " +
        "or set netlint.path or netlint.interpreter.",
      "Open Settings",
      "Show Output",
    );
    if (choice === "Open Settings") {
      await vscode.commands.executeCommand("workbench.action.openSettings", "netlint.");
    } else if (choice === "Show Output") {
      output.show();
    }
    return;
  }
  output.appendLine(`starting ${[resolved.command, ...resolved.args].join(" ")} (from ${resolved.origin})`);
  const serverOptions: ServerOptions = {
    command: resolved.command,
    args: resolved.args,
    transport: TransportKind.stdio,
    options: { cwd: resolved.cwd },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: DOCUMENT_SELECTOR.map((filter) => ({ ...filter })),
    initializationOptions: initializationOptions(setting<unknown>("debounceMs")),
    outputChannel: output,
  };
  // The id `netlint` makes the client read `netlint.trace.server` itself.
  const next = new LanguageClient("netlint", "netlint", serverOptions, clientOptions);
  try {
    await next.start();
  } catch (error) {
    output.appendLine(`netlint lsp did not start: ${String(error)}`);
    void vscode.window.showErrorMessage(
      `netlint: ${resolved.command} did not start as a language server (see the netlint output).`,
    );
    await next.dispose().catch(() => undefined);
    return;
  }
  client = next;
  origin = resolved.origin;
  context.subscriptions.push({ dispose: () => void next.dispose() });
}

async function stop(): Promise<void> {
  const running = client;
  client = undefined;
  origin = undefined;
  if (running !== undefined) {
    await running.dispose().catch((error: unknown) => output.appendLine(`stopping: ${String(error)}`));
  }
}

function restart(context: vscode.ExtensionContext): Promise<void> {
  queue = queue.then(
    async () => {
      await stop();
      await start(context);
    },
    () => undefined,
  );
  return queue;
}

let watchingPython = false;

function watchPythonInterpreter(context: vscode.ExtensionContext, api: unknown): void {
  if (watchingPython) {
    return;
  }
  const environments = (api as { environments?: { onDidChangeActiveEnvironmentPath?: unknown } } | undefined)
    ?.environments;
  const event = environments?.onDidChangeActiveEnvironmentPath;
  if (typeof event !== "function") {
    return;
  }
  // Only a server discovered without a setting depends on the Python extension's choice.
  const subscription = (event as vscode.Event<unknown>).call(environments, () => {
    if (origin !== "netlint.path" && origin !== "netlint.interpreter") {
      void restart(context);
    }
  });
  context.subscriptions.push(subscription);
  watchingPython = true;
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("netlint");
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand("netlint.restart", () => restart(context)),
    vscode.commands.registerCommand("netlint.showOutput", () => output.show()),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (RESTART_SETTINGS.some((key) => event.affectsConfiguration(key))) {
        void restart(context);
      }
    }),
    // Trust is what lets the workspace's interpreters and settings in: start over with them.
    vscode.workspace.onDidGrantWorkspaceTrust(async () => {
      watchPythonInterpreter(context, await pythonApi());
      await restart(context);
    }),
  );
  if (vscode.workspace.isTrusted) {
    watchPythonInterpreter(context, await pythonApi());
  }
  await restart(context);
}

export async function deactivate(): Promise<void> {
  await queue;
  await stop();
}
