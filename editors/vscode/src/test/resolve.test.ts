import * as assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  type Environment,
  type Settings,
  effective,
  expand,
  findOnPath,
  inside,
  resolveServer,
  scriptBeside,
  venvInterpreter,
} from "../resolve";

const NONE: Settings = { path: "", interpreter: "", args: [] };

/** An environment over a fake disk: `files` are the regular files that exist. */
function env(files: string[], overrides: Partial<Environment> = {}): Environment {
  const disk = new Set(files);
  return {
    trusted: true,
    folders: ["/work/repo"],
    home: "/home/me",
    searchPath: "/usr/local/bin:/usr/bin",
    platform: "linux",
    isFile: (file) => disk.has(file),
    ...overrides,
  };
}

function command(result: ReturnType<typeof resolveServer>): [string, string[], string] {
  assert.ok(result.found, `expected a command, got the notes ${JSON.stringify(result.notes)}`);
  return [result.command, result.args, result.origin];
}

describe("resolveServer", () => {
  test("netlint.path wins over everything and gets `lsp` and the extra arguments", () => {
    const result = resolveServer(
      { path: "/opt/netlint/bin/netlint", interpreter: "/usr/bin/python3", args: ["--x", "y"] },
      env(["/work/repo/.venv/bin/python", "/work/repo/.venv/bin/netlint"], { pythonInterpreter: "/py" }),
    );
    assert.deepEqual(command(result), ["/opt/netlint/bin/netlint", ["lsp", "--x", "y"], "netlint.path"]);
  });

  test("netlint.interpreter runs the module, with -P so the current folder is not imported", () => {
    const result = resolveServer({ ...NONE, interpreter: "/opt/py/bin/python" }, env([]));
    assert.deepEqual(command(result), ["/opt/py/bin/python", ["-P", "-m", "netlint", "lsp"], "netlint.interpreter"]);
  });

  test("the Python extension's interpreter comes before the workspace .venv", () => {
    const files = ["/envs/a/bin/python", "/envs/a/bin/netlint", "/work/repo/.venv/bin/python", "/work/repo/.venv/bin/netlint"];
    const result = resolveServer(NONE, env(files, { pythonInterpreter: "/envs/a/bin/python" }));
    assert.deepEqual(command(result), ["/envs/a/bin/python", ["-P", "-m", "netlint", "lsp"], "python-extension"]);
  });

  test("an interpreter without netlint beside it is passed over, with a note", () => {
    const files = ["/envs/a/bin/python", "/work/repo/.venv/bin/python", "/work/repo/.venv/bin/netlint"];
    const result = resolveServer(NONE, env(files, { pythonInterpreter: "/envs/a/bin/python" }));
    assert.deepEqual(command(result), ["/work/repo/.venv/bin/python", ["-P", "-m", "netlint", "lsp"], "workspace-venv"]);
    assert.deepEqual(result.notes, ["python-extension: netlint is not installed beside /envs/a/bin/python"]);
  });

  test("each workspace folder's .venv is tried in order", () => {
    const files = ["/work/b/.venv/bin/python", "/work/b/.venv/bin/netlint"];
    const result = resolveServer(NONE, env(files, { folders: ["/work/a", "/work/b"] }));
    assert.deepEqual(command(result)[0], "/work/b/.venv/bin/python");
    assert.deepEqual(result.notes, ["workspace-venv: /work/a/.venv/bin/python does not exist"]);
    assert.ok(result.found);
    assert.equal(result.cwd, "/work/a");
  });

  test("else netlint on PATH, as an absolute path", () => {
    const result = resolveServer({ ...NONE, args: ["-v"] }, env(["/usr/bin/netlint"]));
    assert.deepEqual(command(result), ["/usr/bin/netlint", ["lsp", "-v"], "PATH"]);
  });

  test("nothing found is reported, not guessed", () => {
    const result = resolveServer(NONE, env(["/work/repo/.venv/bin/python"]));
    assert.equal(result.found, false);
    assert.deepEqual(result.notes, [
      "workspace-venv: netlint is not installed beside /work/repo/.venv/bin/python",
      "PATH: no netlint executable found",
    ]);
  });

  test("Windows: Scripts\\python.exe and netlint.exe", () => {
    const files = ["C:\\repo\\.venv\\Scripts\\python.exe", "C:\\repo\\.venv\\Scripts\\netlint.exe"];
    const result = resolveServer(NONE, env(files, { folders: ["C:\\repo"], platform: "win32", home: "C:\\Users\\me" }));
    assert.deepEqual(command(result)[0], "C:\\repo\\.venv\\Scripts\\python.exe");
  });

  test("a bare interpreter name is looked up on PATH", () => {
    const result = resolveServer({ ...NONE, interpreter: "python3" }, env(["/usr/bin/python3"]));
    assert.deepEqual(command(result), ["/usr/bin/python3", ["-P", "-m", "netlint", "lsp"], "netlint.interpreter"]);
  });
});

describe("resolveServer in an untrusted workspace", () => {
  const venv = ["/work/repo/.venv/bin/python", "/work/repo/.venv/bin/netlint"];

  test("never runs the workspace's .venv or the Python extension's choice", () => {
    const result = resolveServer(NONE, env([...venv, "/usr/bin/netlint"], { trusted: false, pythonInterpreter: venv[0] }));
    assert.deepEqual(command(result), ["/usr/bin/netlint", ["lsp"], "PATH"]);
    assert.match(result.notes.join("\n"), /not trusted/);
  });

  test("runs the server from the home folder, not from the workspace", () => {
    const result = resolveServer(NONE, env(["/usr/bin/netlint"], { trusted: false }));
    assert.ok(result.found);
    assert.equal(result.cwd, "/home/me");
  });

  test("a user setting that points into the workspace is not run", () => {
    const settings = { ...NONE, interpreter: "${workspaceFolder}/.venv/bin/python" };
    const result = resolveServer(settings, env([...venv, "/usr/bin/netlint"], { trusted: false }));
    assert.deepEqual(command(result)[2], "PATH");
    assert.match(result.notes.join("\n"), /untrusted workspace/);
    // The same setting in a trusted workspace is the user's choice.
    assert.deepEqual(command(resolveServer(settings, env(venv)))[0], "/work/repo/.venv/bin/python");
  });

  test("a relative setting is not run (it would be relative to the workspace)", () => {
    const result = resolveServer({ ...NONE, path: "./bin/netlint" }, env([], { trusted: false }));
    assert.equal(result.found, false);
  });

  test("PATH entries inside the workspace are skipped", () => {
    const result = resolveServer(
      NONE,
      env(["/work/repo/bin/netlint", "/usr/bin/netlint"], { trusted: false, searchPath: "/work/repo/bin:/usr/bin" }),
    );
    assert.deepEqual(command(result)[0], "/usr/bin/netlint");
  });
});

describe("helpers", () => {
  test("effective ignores the workspace's levels when untrusted", () => {
    const inspected = { defaultValue: "", globalValue: "/user", workspaceValue: "/ws", workspaceFolderValue: "/folder" };
    assert.equal(effective(inspected, true), "/folder");
    assert.equal(effective(inspected, false), "/user");
    assert.equal(effective({ defaultValue: "", workspaceValue: "/ws" }, false), "");
    assert.equal(effective(undefined, true), undefined);
  });

  test("expand knows ~, ${userHome} and ${workspaceFolder}", () => {
    const where = { folders: ["/work/repo"], home: "/home/me" };
    assert.equal(expand("~/bin/netlint", where), "/home/me/bin/netlint");
    assert.equal(expand("${userHome}/x", where), "/home/me/x");
    assert.equal(expand(" ${workspaceFolder}/.venv/bin/python ", where), "/work/repo/.venv/bin/python");
    assert.equal(expand("${workspaceFolder}/x", { folders: [], home: "/h" }), undefined);
    assert.equal(expand("   ", where), undefined);
    assert.equal(expand("/a~/b", where), "/a~/b");
  });

  test("inside compares whole path segments", () => {
    assert.equal(inside("/work/repo/bin", ["/work/repo"], "linux"), true);
    assert.equal(inside("/work/repo", ["/work/repo"], "linux"), true);
    assert.equal(inside("/work/repo/../other", ["/work/repo"], "linux"), false);
    assert.equal(inside("/work/repository", ["/work/repo"], "linux"), false);
    assert.equal(inside("C:\\Repo\\bin", ["c:\\repo"], "win32"), true);
  });

  test("findOnPath skips relative entries", () => {
    const where = env(["bin/netlint", "/opt/bin/netlint"], { searchPath: ".:bin::/opt/bin" });
    assert.equal(findOnPath("netlint", where), "/opt/bin/netlint");
  });

  test("scriptBeside and venvInterpreter", () => {
    assert.equal(scriptBeside("/v/bin/python3.11", "linux"), "/v/bin/netlint");
    assert.equal(scriptBeside("C:\\v\\Scripts\\python.exe", "win32"), "C:\\v\\Scripts\\netlint.exe");
    assert.equal(venvInterpreter("/r", "darwin"), "/r/.venv/bin/python");
  });
});
