import * as assert from "node:assert/strict";
import { test } from "node:test";

import { selectedInterpreter } from "../python";

const FOLDER = { fsPath: "/work/repo" };

test("reads the environments API: the resolved executable of the active environment", async () => {
  const asked: unknown[] = [];
  const api = {
    environments: {
      getActiveEnvironmentPath: (resource: unknown) => {
        asked.push(resource);
        return { id: "venv", path: "/work/repo/.venv" };
      },
      resolveEnvironment: async (environment: unknown) => {
        assert.deepEqual(environment, { id: "venv", path: "/work/repo/.venv" });
        return { executable: { uri: { fsPath: "/work/repo/.venv/bin/python" } } };
      },
    },
  };
  assert.equal(await selectedInterpreter(api, FOLDER), "/work/repo/.venv/bin/python");
  assert.deepEqual(asked, [FOLDER]);
});

test("falls back to the older settings API", async () => {
  const api = {
    environments: {
      getActiveEnvironmentPath: () => ({ path: "/conda/env" }),
      resolveEnvironment: async () => ({ executable: { uri: undefined } }),
    },
    settings: { getExecutionDetails: () => ({ execCommand: ["/conda/env/bin/python", "-X"] }) },
  };
  assert.equal(await selectedInterpreter(api, FOLDER), "/conda/env/bin/python");
});

test("an API that is missing, odd or throwing gives no interpreter", async () => {
  assert.equal(await selectedInterpreter(undefined, FOLDER), undefined);
  assert.equal(await selectedInterpreter({}, FOLDER), undefined);
  assert.equal(await selectedInterpreter({ settings: { getExecutionDetails: () => ({ execCommand: "python" }) } }, FOLDER), undefined);
  assert.equal(await selectedInterpreter({ settings: { getExecutionDetails: () => ({ execCommand: [""] }) } }, FOLDER), undefined);
  const throwing = {
    environments: {
      getActiveEnvironmentPath: () => ({ path: "/x" }),
      resolveEnvironment: async () => {
        throw new Error("not ready");
      },
    },
  };
  assert.equal(await selectedInterpreter(throwing, FOLDER), undefined);
});
