// extension.ts's wiring, run under node against a fake `vscode` module and a fake language
// client that records what it was given. This checks what the extension asks of VS Code and
// hands the client (command, arguments, folder, documents, options) and when it restarts; it
// does not check VS Code itself, nor the real client library talking to a real server (the
// Python suite drives the server with real clients: tests/test_lsp.py, tests/test_neovim.py).
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import Module = require("node:module");
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, test } from "node:test";

type Listener = (...args: unknown[]) => unknown;

interface Started {
  id: string;
  server: { command: string; args: string[]; options: { cwd: string } };
  client: { documentSelector: unknown; initializationOptions: unknown };
  disposed: boolean;
}

interface World {
  trusted: boolean;
  folders: string[];
  /** Setting name (without `netlint.`) to its inspect() levels. */
  settings: Record<string, Record<string, unknown>>;
  python: { activated: number; exports: unknown } | undefined;
  extensionsAsked: string[];
  started: Started[];
  errors: string[];
  commands: Map<string, Listener>;
  configurationListeners: Listener[];
  trustListeners: Listener[];
}

let world: World;
let scratch: string;
const savedPath = process.env["PATH"];

function fakeVscode(): unknown {
  const disposable = { dispose: () => undefined };
  return {
    workspace: {
      get isTrusted() {
        return world.trusted;
      },
      get workspaceFolders() {
        return world.folders.map((fsPath) => ({ uri: { scheme: "file", fsPath } }));
      },
      getConfiguration: (section: string) => {
        assert.equal(section, "netlint");
        return { inspect: (key: string) => ({ defaultValue: undefined, ...world.settings[key] }) };
      },
      onDidChangeConfiguration: (listener: Listener) => {
        world.configurationListeners.push(listener);
        return disposable;
      },
      onDidGrantWorkspaceTrust: (listener: Listener) => {
        world.trustListeners.push(listener);
        return disposable;
      },
    },
    window: {
      createOutputChannel: () => ({ appendLine: () => undefined, show: () => undefined, dispose: () => undefined }),
      showErrorMessage: async (message: string) => {
        world.errors.push(message);
        return undefined;
      },
    },
    commands: {
      registerCommand: (name: string, listener: Listener) => {
        world.commands.set(name, listener);
        return disposable;
      },
      executeCommand: async () => undefined,
    },
    extensions: {
      getExtension: (id: string) => {
        world.extensionsAsked.push(id);
        const python = world.python;
        if (id !== "ms-python.python" || python === undefined) {
          return undefined;
        }
        return {
          isActive: false,
          exports: undefined,
          activate: async () => {
            python.activated += 1;
            return python.exports;
          },
        };
      },
    },
  };
}

class FakeLanguageClient {
  private readonly record: Started;
  constructor(id: string, _name: string, server: Started["server"], client: Started["client"]) {
    this.record = { id, server, client, disposed: false };
    world.started.push(this.record);
  }
  async start(): Promise<void> {}
  async dispose(): Promise<void> {
    this.record.disposed = true;
  }
}

type Load = (request: string, parent: unknown, isMain: boolean) => unknown;
const loader = Module as unknown as { _load: Load };
const originalLoad = loader._load;

function loadExtension(): typeof import("../extension") {
  const file = require.resolve("../extension");
  delete require.cache[file];
  return require(file) as typeof import("../extension");
}

function context(): { subscriptions: Array<{ dispose(): unknown }> } {
  return { subscriptions: [] };
}

/** An executable `netlint` in a scratch folder, put on PATH. */
function netlintOnPath(): string {
  const bin = path.join(scratch, "bin");
  fs.mkdirSync(bin, { recursive: true });
  const file = path.join(bin, "netlint");
  fs.writeFileSync(file, "#!/bin/sh\n", { mode: 0o755 });
  process.env["PATH"] = bin;
  return file;
}

beforeEach(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "netlint-vscode-"));
  world = {
    trusted: true,
    folders: [path.join(scratch, "repo")],
    settings: {},
    python: undefined,
    extensionsAsked: [],
    started: [],
    errors: [],
    commands: new Map(),
    configurationListeners: [],
    trustListeners: [],
  };
  process.env["PATH"] = "";
  const vscode = fakeVscode();
  const client = { LanguageClient: FakeLanguageClient, TransportKind: { stdio: 0 } };
  loader._load = function (this: unknown, request, parent, isMain) {
    if (request === "vscode") {
      return vscode;
    }
    if (request === "vscode-languageclient/node") {
      return client;
    }
    return originalLoad.call(this, request, parent, isMain);
  };
});

afterEach(() => {
  loader._load = originalLoad;
  process.env["PATH"] = savedPath;
  fs.rmSync(scratch, { recursive: true, force: true });
});

test("starts the configured interpreter for YAML and JSON with the debounce", async () => {
  world.settings["interpreter"] = { workspaceValue: "/opt/py/bin/python" };
  world.settings["debounceMs"] = { defaultValue: 300, globalValue: 150 };
  world.settings["args"] = { workspaceValue: ["--flag"] };
  const extension = loadExtension();
  await extension.activate(context() as never);
  assert.equal(world.started.length, 1);
  const [started] = world.started;
  assert.equal(started?.id, "netlint");
  assert.deepEqual(started?.server.command, "/opt/py/bin/python");
  assert.deepEqual(started?.server.args, ["-P", "-m", "netlint", "lsp", "--flag"]);
  assert.equal(started?.server.options.cwd, world.folders[0]);
  assert.deepEqual(started?.client.documentSelector, [
    { scheme: "file", language: "yaml" },
    { scheme: "file", language: "json" },
  ]);
  assert.deepEqual(started?.client.initializationOptions, { debounceMs: 150 });
  assert.deepEqual([...world.commands.keys()].sort(), ["netlint.restart", "netlint.showOutput"]);
  await extension.deactivate();
  assert.equal(started?.disposed, true);
});

test("uses the Python extension's interpreter when netlint is installed beside it", async () => {
  const bin = path.join(scratch, "env", "bin");
  fs.mkdirSync(bin, { recursive: true });
  for (const name of ["python", "netlint"]) {
    fs.writeFileSync(path.join(bin, name), "");
  }
  world.python = {
    activated: 0,
    exports: {
      environments: {
        getActiveEnvironmentPath: () => ({ path: path.join(bin, "python") }),
        resolveEnvironment: async () => ({ executable: { uri: { fsPath: path.join(bin, "python") } } }),
      },
    },
  };
  const extension = loadExtension();
  await extension.activate(context() as never);
  assert.equal(world.started[0]?.server.command, path.join(bin, "python"));
  await extension.deactivate();
});

test("in an untrusted workspace: no workspace settings, no Python extension, not run from the workspace", async () => {
  world.trusted = false;
  world.settings["path"] = { workspaceValue: "/evil/netlint" };
  world.settings["interpreter"] = { workspaceFolderValue: "/evil/python" };
  world.python = { activated: 0, exports: {} };
  const repoVenv = path.join(world.folders[0] ?? "", ".venv", "bin");
  fs.mkdirSync(repoVenv, { recursive: true });
  fs.writeFileSync(path.join(repoVenv, "python"), "");
  fs.writeFileSync(path.join(repoVenv, "netlint"), "");
  const netlint = netlintOnPath();
  const extension = loadExtension();
  await extension.activate(context() as never);
  assert.equal(world.python.activated, 0);
  assert.deepEqual(world.extensionsAsked, []);
  assert.equal(world.started.length, 1);
  assert.equal(world.started[0]?.server.command, netlint);
  assert.deepEqual(world.started[0]?.server.args, ["lsp"]);
  assert.equal(world.started[0]?.server.options.cwd, os.homedir());
  await extension.deactivate();
});

test("a change of a netlint setting restarts the server with the new value; others do not", async () => {
  netlintOnPath();
  const extension = loadExtension();
  await extension.activate(context() as never);
  const [listener] = world.configurationListeners;
  assert.ok(listener);
  listener({ affectsConfiguration: (key: string) => key === "editor.fontSize" });
  assert.equal(world.started.length, 1);
  world.settings["debounceMs"] = { globalValue: 50 };
  listener({ affectsConfiguration: (key: string) => key === "netlint.debounceMs" });
  await extension.deactivate(); // waits for the queued restart, then stops it
  assert.equal(world.started.length, 2);
  assert.equal(world.started[0]?.disposed, true);
  assert.deepEqual(world.started[1]?.client.initializationOptions, { debounceMs: 50 });
});

test("granting trust restarts with the workspace's .venv", async () => {
  world.trusted = false;
  netlintOnPath();
  const venv = path.join(world.folders[0] ?? "", ".venv", "bin");
  fs.mkdirSync(venv, { recursive: true });
  fs.writeFileSync(path.join(venv, "python"), "");
  fs.writeFileSync(path.join(venv, "netlint"), "");
  const extension = loadExtension();
  await extension.activate(context() as never);
  assert.equal(world.started[0]?.server.command, path.join(scratch, "bin", "netlint"));
  world.trusted = true;
  const [grant] = world.trustListeners;
  assert.ok(grant);
  await grant();
  assert.equal(world.started.length, 2);
  assert.equal(world.started[1]?.server.command, path.join(venv, "python"));
  await extension.deactivate();
});

test("with no netlint anywhere, an error says what to set and nothing starts", async () => {
  const extension = loadExtension();
  await extension.activate(context() as never);
  assert.deepEqual(world.started, []);
  assert.equal(world.errors.length, 1);
  assert.match(world.errors[0] ?? "", /netlint\.path or netlint\.interpreter/);
  await extension.deactivate();
});
