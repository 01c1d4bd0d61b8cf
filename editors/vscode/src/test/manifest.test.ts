// The manifest (package.json) and the code must agree: VS Code reads the one, the client the
// other, and neither checks the other.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";

import { DEFAULT_DEBOUNCE_MS, DOCUMENT_SELECTOR, RESTART_SETTINGS, extraArgs, initializationOptions } from "../options";

// The package's folder: the compiled tests sit in out/test/ below it, unless the Python wrapper
// compiled them elsewhere (tests/test_vscode_extension.py), which says where the package is.
const ROOT = process.env["NETLINT_VSCODE_ROOT"] ?? path.resolve(__dirname, "..", "..");

interface Manifest {
  main: string;
  activationEvents: string[];
  contributes: { configuration: { properties: Record<string, { default?: unknown }> }; commands: Array<{ command: string }> };
  capabilities: { untrustedWorkspaces: { supported: string; restrictedConfigurations: string[] } };
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf-8")) as Manifest;
const properties = manifest.contributes.configuration.properties;

test("every language the client selects activates the extension", () => {
  const languages = DOCUMENT_SELECTOR.map((filter) => `onLanguage:${filter.language}`);
  assert.deepEqual([...manifest.activationEvents].sort(), [...languages].sort());
  assert.deepEqual(
    DOCUMENT_SELECTOR.map((filter) => filter.language),
    ["yaml", "json"],
  );
});

test("every setting the code reads is contributed, and the ones that choose a program are restricted", () => {
  for (const key of [...RESTART_SETTINGS, "netlint.trace.server"]) {
    assert.ok(key in properties, key);
  }
  const restricted = manifest.capabilities.untrustedWorkspaces.restrictedConfigurations;
  assert.deepEqual([...restricted].sort(), ["netlint.args", "netlint.interpreter", "netlint.path"]);
  assert.equal(manifest.capabilities.untrustedWorkspaces.supported, "limited");
  assert.equal(properties["netlint.debounceMs"]?.default, DEFAULT_DEBOUNCE_MS);
});

test("the commands extension.ts registers are contributed", () => {
  const source = fs.readFileSync(path.join(ROOT, "src", "extension.ts"), "utf-8");
  const registered = [...source.matchAll(/registerCommand\("([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(
    manifest.contributes.commands.map((c) => c.command).sort(),
    registered.sort(),
  );
});

test("dependencies are pinned exactly (package-lock.json pins the rest)", () => {
  for (const [name, version] of Object.entries({ ...manifest.dependencies, ...manifest.devDependencies })) {
    assert.match(version, /^\d+\.\d+\.\d+$/, name);
  }
  assert.equal(manifest.main, "./out/extension.js");
  assert.match(manifest.scripts["package"] ?? "", /^vsce package /);
});

test("initializationOptions carry the debounce the server reads, clamped", () => {
  assert.deepEqual(initializationOptions(120), { debounceMs: 120 });
  assert.deepEqual(initializationOptions(-5), { debounceMs: 0 });
  assert.deepEqual(initializationOptions("fast"), { debounceMs: DEFAULT_DEBOUNCE_MS });
  assert.deepEqual(initializationOptions(Number.NaN), { debounceMs: DEFAULT_DEBOUNCE_MS });
  assert.deepEqual(initializationOptions(undefined), { debounceMs: DEFAULT_DEBOUNCE_MS });
});

test("extra arguments keep strings only", () => {
  assert.deepEqual(extraArgs(["--a", 3, null, "b"]), ["--a", "b"]);
  assert.deepEqual(extraArgs("--a"), []);
});
