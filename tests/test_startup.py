"""A lean start-up, pinned by what is imported, never by the clock: a ``netlint check`` imports
nothing it does not use on that run. The plugin list is kept in the project's cache (no
``importlib.metadata`` scan while nothing installed changed, and the list follows every install,
removal, upgrade or edit of a plugin), jsonschema is imported only to explain an invalid config
or manifest, the policy schema's validator ships generated, and the other commands' modules stay
out. Timings are in bench/run.py and docs/performance.md."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema
import pytest
import yaml
from helpers import netlint

from netlint.read import schema
from netlint.read._validators import networkpolicy as generated
from netlint.run import catalogue_cache
from netlint.run.catalogue_cache import Dist, Plugin

#: Runs netlint's CLI as the console script does (argv[0] ``netlint``: the current directory
#: leaves sys.path), then writes the names of every module imported to $MODULES_OUT.
DRIVER = """\
import json, os, sys
sys.argv = ["netlint", *json.loads(os.environ["NETLINT_ARGS"])]
import netlint
from netlint.integrations.cli import main
status = main()
with open(os.environ["MODULES_OUT"], "w") as out:
    json.dump(sorted(sys.modules), out)
sys.exit(status)
"""

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web
  namespace: shop
  labels: {team: a}
spec:
  podSelector:
    matchLabels: {app: web}
  policyTypes: [Egress]
  egress:
    - to:
        - ipBlock: {cidr: 0.0.0.0/0}
"""

WORKLOAD = """\
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: x}]}
"""

CONFIG = """\
fail-on: error
exclude: ["/vendor/"]
rules:
  NL104: {severity: note}
"""

#: What a check of a valid project with a valid config never needs.
UNUSED = (
    "importlib.metadata",
    "email",
    "jsonschema",
    "fastjsonschema",
    "tomllib",
    "importlib.resources",
    "sarif_om",
    "pygls",
    "lsprotocol",
    "ruamel",
    "netlint.integrations.lsp",
    "netlint.integrations.init",
    "netlint.output.reporters.sarif",
    "netlint.output.connectivity",
    "netlint.output.html",
    "netlint.output.diff",
    "netlint.output.explain",
    "netlint.output.ruledocs",
    # A run too small for worker processes (here: one file) starts none.
    "multiprocessing",
    "concurrent.futures",
    "ctypes",
)

#: What parses files and plans deploy units: a run answered from the cache (a stored report,
#: a stored cluster) needs none of it.
PARSING = (
    "netlint.read.load",
    "netlint.read.units",
    "netlint.read.gitops",
    "netlint.read.composer",
    "netlint.read.kustomize.build",
    "netlint.analysis.layout",
)

PLUGIN = """\
from netlint.api import Rule, RuleMeta, Severity


class TeamLabel(Rule):
    meta = RuleMeta(
        code="ACME001",
        name="team-label",
        severity=Severity.WARNING,
        summary="Every NetworkPolicy carries a team label.",
        rationale="Acme routes alerts by team.",
    )

    def check_policy(self, ctx, policy):
        yield ctx.finding(policy.name_span, "seen by acme", subject=policy)
"""


def _git_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=path, check=True, timeout=60)
    return path


def _check(
    repo: Path, tmp: Path, *args: str, site: Path | None = None, command: str = "check"
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``netlint COMMAND ARGS`` in ``repo``: its result, and the modules it imported."""
    out = tmp / "modules.json"
    out.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    env.update(NO_COLOR="1", NETLINT_ARGS=json.dumps([command, *args]), MODULES_OUT=str(out))
    if site is not None:
        env["PYTHONPATH"] = str(site)
    done = subprocess.run(
        [sys.executable, "-c", DRIVER],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    modules = set(json.loads(out.read_text())) if out.exists() else set()
    return done, modules


def _past_racy_window() -> None:
    """Waits until files just written are older than the cache's racy window: a file changed
    within two seconds of the state being written is read again, not trusted by its stat, and
    such a run is not answered from the stored report (cache._RACY_NS)."""
    time.sleep(2.1)


def _imported(modules: set[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


def test_a_check_imports_only_what_the_run_uses(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    (repo / ".netlint.yaml").write_text(CONFIG)
    (repo / "np.yaml").write_text(POLICY)
    first, before = _check(repo, tmp_path, "np.yaml")
    assert "NL104" in first.stdout and first.returncode == 0, first.stderr
    # The first run scanned the installed distributions, and kept what it found.
    assert "importlib.metadata" in before
    assert (repo / ".netlint_cache" / catalogue_cache.HEAD).is_file()
    # Edited, so that the file is parsed and every rule runs again (no outcome replayed).
    (repo / "np.yaml").write_text(POLICY + "# edited\n")
    second, after = _check(repo, tmp_path, "np.yaml")
    assert second.stdout == first.stdout and second.returncode == 0, second.stderr
    assert "netlint.rules.nl104_broad_cidr" in after and "netlint.read.build" in after
    assert [name for name in UNUSED if _imported(after, name)] == []


def test_a_warm_check_without_a_config_imports_no_yaml_binding(tmp_path: Path) -> None:
    """Unchanged since the last run: the stored report answers and nothing is parsed, so
    neither PyYAML nor ruamel is imported (a config file is parsed on every run)."""
    repo = _git_repo(tmp_path / "repo")
    (repo / "np.yaml").write_text(POLICY)
    _past_racy_window()
    first, cold = _check(repo, tmp_path, "np.yaml")
    assert "NL104" in first.stdout
    assert _imported(cold, "yaml") or _imported(cold, "ruamel")
    again, warm = _check(repo, tmp_path, "np.yaml")
    assert again.stdout == first.stdout and again.returncode == first.returncode, again.stderr
    assert not _imported(warm, "yaml") and not _imported(warm, "ruamel")
    assert [name for name in UNUSED if _imported(warm, name)] == []
    assert [name for name in PARSING if _imported(warm, name)] == []
    assert _imported(cold, "netlint.read.load") and _imported(cold, "netlint.analysis.layout")


def test_explaining_a_pair_of_a_stored_cluster_parses_and_plans_nothing(tmp_path: Path) -> None:
    """The second ``netlint explain`` of an unchanged repo answers from the cluster the first
    stored: the parsing and planning machinery is not even imported."""
    repo = _git_repo(tmp_path / "repo")
    (repo / "np.yaml").write_text(POLICY + WORKLOAD)
    _past_racy_window()
    first, cold = _check(repo, tmp_path, "shop/web", "shop/web", command="explain")
    assert "shop/web" in first.stdout and first.returncode == 0, first.stderr
    assert _imported(cold, "netlint.read.load")
    again, warm = _check(repo, tmp_path, "shop/web", "shop/web", command="explain")
    assert again.stdout == first.stdout and again.returncode == 0, again.stderr
    assert [name for name in PARSING if _imported(warm, name)] == []
    assert not _imported(warm, "yaml") and not _imported(warm, "ruamel")


def test_a_folder_outside_any_project_caches_the_plugin_list_with_its_parse_cache(
    tmp_path: Path,
) -> None:
    """No git, no config: the parse cache goes in the folder linted, and so does the plugin
    list, so a second run does not scan the installed distributions either."""
    folder = tmp_path / "loose"
    folder.mkdir()
    (folder / "np.yaml").write_text(POLICY)
    first, before = _check(folder, tmp_path, "np.yaml")
    assert "NL104" in first.stdout, first.stderr
    assert "importlib.metadata" in before
    assert (folder / ".netlint_cache" / catalogue_cache.HEAD).is_file()
    (folder / "np.yaml").write_text(POLICY + "# edited\n")
    second, after = _check(folder, tmp_path, "np.yaml")
    assert second.stdout == first.stdout, second.stderr
    assert not _imported(after, "importlib.metadata")


def test_jsonschema_still_explains_an_invalid_config(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    (repo / ".netlint.yaml").write_text("fail-on: sometimes\nrules:\n  NL104: {bogus: 1}\n")
    (repo / "np.yaml").write_text(POLICY)
    done, modules = _check(repo, tmp_path, "np.yaml")
    assert done.returncode == 2 and "jsonschema" in modules
    assert ".netlint.yaml:1:" in done.stderr and "fail-on" in done.stderr
    assert "NL104 has no option 'bogus'" in done.stderr


def _install(
    site: Path, *, version: str = "1.0", entries: str = "team = acme_rules:TeamLabel"
) -> Path:
    (site / "acme_rules.py").write_text(PLUGIN)
    info = site / "acme_netlint-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: acme-netlint\nVersion: {version}\n"
    )
    (info / "entry_points.txt").write_text(f"[netlint.rules]\n{entries}\n")
    _settle(site)
    return info


def _settle(site: Path) -> None:
    """Metadata as an installer leaves it some seconds later: a list scanned from metadata
    modified within the last 2 s is not kept (its next change might keep its stat)."""
    past = time.time() - 10
    for path in [site, *site.rglob("*")]:
        os.utime(path, (past, past))


def test_the_cached_plugin_list_follows_installs_and_removals(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    (repo / "np.yaml").write_text(POLICY)
    site = tmp_path / "site"
    site.mkdir()

    def run() -> tuple[bool, bool]:
        """Whether ACME001 reported, and whether the run scanned the installed metadata."""
        done, modules = _check(repo, tmp_path, site=site)
        assert done.returncode == 1, done.stderr
        return "ACME001" in done.stdout, "importlib.metadata" in modules

    assert run() == (False, True)  # nothing known yet: a scan
    assert run() == (False, False)  # nothing changed: the cached list
    info = _install(site)
    assert run() == (True, True)  # installed
    assert run() == (True, False)
    _install(site, entries="")  # its entry point removed, in place
    assert run() == (False, True)
    _install(site)
    assert run() == (True, True)
    _install(site, version="1.1")  # upgraded in place: the version is part of the outcome key
    assert run() == (True, True)
    shutil.rmtree(info)  # uninstalled
    _settle(site)
    assert run() == (False, True)
    assert run() == (False, False)


def test_a_list_scanned_from_metadata_just_written_is_not_kept(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    (repo / "np.yaml").write_text(POLICY)
    site = tmp_path / "site"
    site.mkdir()
    _install(site)
    (site / "acme_netlint-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: acme-netlint\nVersion: 1.1\n"
    )
    for _ in range(2):  # both scan: the metadata may still change within its timestamp tick
        done, modules = _check(repo, tmp_path, site=site)
        assert "ACME001" in done.stdout and "importlib.metadata" in modules
    _settle(site)
    _check(repo, tmp_path, site=site)
    done, modules = _check(repo, tmp_path, site=site)
    assert "ACME001" in done.stdout and "importlib.metadata" not in modules


def _genuine(tmp_path: Path) -> tuple[catalogue_cache.Fingerprint, tuple[Plugin, ...]]:
    from netlint.run.registry import _scan

    now = catalogue_cache.fingerprint()
    assert now is not None
    plugins, cacheable = _scan()
    assert cacheable and any(p.value == "netlint.rules:builtin_rules" for p in plugins)
    return now, plugins


def test_only_entries_the_installed_metadata_declares_are_believed(tmp_path: Path) -> None:
    now, plugins = _genuine(tmp_path)
    catalogue_cache.save(tmp_path, now, plugins)
    assert catalogue_cache.load(tmp_path, "netlint.rules", now) == plugins  # the control
    ours = next(p for p in plugins if p.value == "netlint.rules:builtin_rules")
    assert ours.dist is not None
    elsewhere = str(tmp_path / "evil_rules-1.0.dist-info")
    forged = [
        # An entry netlint's metadata does not declare, claimed for netlint.
        (*plugins, Plugin("evil", "evil_rules:Rule", ours.dist)),
        # netlint's own entry with another value.
        (Plugin(ours.name, "evil_rules:Rule", ours.dist),),
        # A distribution whose metadata is not on sys.path.
        (*plugins, Plugin("evil", "evil_rules:Rule", Dist("evil-rules", "1.0", elsewhere))),
        # A distribution named other than its metadata folder (NL codes are netlint's).
        (Plugin(ours.name, ours.value, Dist("acme", "1.0", ours.dist.metadata)),),
        (Plugin(ours.name, ours.value, None),),
    ]
    for entries in forged:
        catalogue_cache.save(tmp_path, now, entries)
        assert catalogue_cache.load(tmp_path, "netlint.rules", now) is None, entries
    # Another fingerprint (something was installed) is a miss too.
    catalogue_cache.save(tmp_path, now, plugins)
    other = catalogue_cache.Fingerprint("0" * 40, now.folders)
    assert catalogue_cache.load(tmp_path, "netlint.rules", other) is None


def test_a_cache_file_netlint_did_not_write_is_not_read(tmp_path: Path) -> None:
    """Copied (or committed, then checked out): the body's inode and ctime are not those the
    head records, so it is not even read."""
    now, plugins = _genuine(tmp_path)
    first, copy = tmp_path / "first", tmp_path / "copy"
    first.mkdir()
    catalogue_cache.save(first, now, plugins)
    shutil.copytree(first / ".netlint_cache", copy / ".netlint_cache")
    assert catalogue_cache.load(first, "netlint.rules", now) == plugins
    assert catalogue_cache.load(copy, "netlint.rules", now) is None
    (first / ".netlint_cache" / catalogue_cache.HEAD).write_bytes(b"not msgpack")
    assert catalogue_cache.load(first, "netlint.rules", now) is None


def test_a_forged_plugin_list_imports_nothing(tmp_path: Path) -> None:
    """End to end: a list that names a module no installed plugin declares, written by netlint
    itself for the very fingerprint of the run (the worst case: the anchor passed), is not
    believed; the run scans, and the module is never imported."""
    repo = _git_repo(tmp_path / "repo")
    (repo / "np.yaml").write_text(POLICY)
    site = tmp_path / "site"
    site.mkdir()
    marker = tmp_path / "imported"
    (site / "evil_rules.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    forge = """\
import sys
sys.argv = ["netlint"]
import netlint
from pathlib import Path
from netlint.run import catalogue_cache
from netlint.run.catalogue_cache import Plugin
from netlint.run.registry import _scan

now = catalogue_cache.fingerprint()
plugins, _ = _scan()
ours = next(p for p in plugins if p.value == "netlint.rules:builtin_rules")
catalogue_cache.save(Path.cwd(), now, (*plugins, Plugin("evil", "evil_rules:Rule", ours.dist)))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    subprocess.run(
        [sys.executable, "-c", forge],
        cwd=repo,
        env={**env, "PYTHONPATH": str(site)},
        check=True,
        timeout=120,
    )
    done, modules = _check(repo, tmp_path, site=site)
    assert done.returncode == 1 and "NL104" in done.stdout, done.stderr
    assert "importlib.metadata" in modules and "evil_rules" not in modules
    assert not marker.exists()
    # The scan's list replaced it: the next run is served from the cache.
    _, modules = _check(repo, tmp_path, site=site)
    assert "importlib.metadata" not in modules and not marker.exists()


def test_the_version_is_read_without_importlib_metadata(tmp_path: Path) -> None:
    from importlib.metadata import version

    probe = "import sys, netlint; print(netlint.__version__, 'importlib.metadata' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.split() == [version("netlint"), "False"]
    shown = netlint("--version", cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout.strip() == f"netlint {version('netlint')}"
    helped = netlint("--help", cwd=tmp_path)
    assert helped.returncode == 0 and "connectivity" in helped.stdout and "lsp" in helped.stdout


# --- conforms: jsonschema's verdict, without jsonschema --------------------------------------

_SCALARS: tuple[Any, ...] = (None, True, False, 0, 1, 1.0, 1.5, -3, 10**9, "", "x", "*.yaml")
_VALUES: tuple[Any, ...] = (
    *_SCALARS,
    "a" * 300,
    [],
    ["a"],
    ["a", "a"],
    ["a", "b"],
    [1],
    [None],
    {},
    {"a": 1},
    {"name": "u", "paths": ["x/**"]},
    {"paths": []},
    {"max-file-bytes": 5},
    {"severity": "warning"},
    [{"name": "u", "paths": ["x"]}],
    [{"paths": ["x"], "extra": 1}],
)


def _samples(properties: list[str], rng: random.Random, count: int) -> list[dict[str, Any]]:
    keys = [*properties, "bogus"]
    found = []
    for _ in range(count):
        chosen = rng.sample(keys, rng.randint(0, len(keys)))
        item = {k: rng.choice(_VALUES) for k in chosen}
        if rng.random() < 0.5:
            item.pop("bogus", None)
        found.append(item)
    return found


def _agree(schema_: dict[str, Any], samples: list[dict[str, Any]]) -> int:
    """How many samples are valid; fails on any that ``conforms`` decides otherwise than
    jsonschema, or leaves undecided although it is valid (a valid config, the common case,
    must never need jsonschema)."""
    checker = jsonschema.Draft7Validator(schema_)
    valid = 0
    for data in samples:
        verdict = schema.conforms(schema_, data)
        if checker.is_valid(data):
            valid += 1
            assert verdict is True, data
        else:
            assert verdict is not True, data
    return valid


def test_conforms_agrees_with_jsonschema_on_the_config_schema() -> None:
    config = schema.load_schema("config")
    samples = _samples(list(config["properties"]), random.Random(16), 3000)
    assert 0.05 * len(samples) < _agree(config, samples) < 0.95 * len(samples)
    assert schema.conforms(config, yaml.safe_load(CONFIG)) is True
    examples = Path(__file__).resolve().parent.parent / "examples" / ".netlint.yaml"
    assert schema.conforms(config, yaml.safe_load(examples.read_text())) is True


def test_conforms_agrees_with_jsonschema_on_every_rule_option_schema() -> None:
    from netlint.rules import builtin_rules

    rng = random.Random(4)
    total = valid = 0
    for rule in builtin_rules():
        options = {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "severity": {"enum": ["error", "warning", "note", "off"]},
                **rule.meta.option_schema,
            },
        }
        samples = _samples(list(options["properties"]), rng, 300)
        total += len(samples)
        valid += _agree(options, samples)
    assert 0.05 * total < valid < 0.95 * total


def test_conforms_is_unsure_of_what_it_does_not_implement() -> None:
    assert schema.conforms({"$ref": "#/definitions/x"}, 1) is None
    assert schema.conforms({"format": "ipv4"}, "x") is None
    assert schema.conforms({"enum": [[1]]}, [1]) is None
    assert schema.conforms({"type": "integer"}, 2.0) is True  # as Draft 7 has it
    assert schema.conforms({"enum": [1]}, True) is False
    assert schema.conforms({"oneOf": [{"type": "string"}, {"maxLength": 3}]}, "ab") is False


# --- the generated validator ------------------------------------------------------------------


def _policies() -> list[Any]:
    """Every NetworkPolicy document of the examples and fixtures, and mutations of them."""
    top = Path(__file__).resolve().parent.parent
    docs: list[Any] = []
    found = [top.glob(f"{folder}/**/*.yaml") for folder in ("examples", "rules", "tests")]
    for path in sorted(p for paths in found for p in paths):
        try:
            loaded = list(yaml.safe_load_all(path.read_text()))
        except (yaml.YAMLError, UnicodeDecodeError):
            continue
        docs += [d for d in loaded if isinstance(d, dict) and d.get("kind") == "NetworkPolicy"]
    rng = random.Random(8)
    mutated = []
    for doc in docs[:200]:
        for _ in range(6):
            copy = json.loads(json.dumps(doc, default=str))
            # One value anywhere in the document replaced by another of any type.
            node = copy
            while True:
                keys = sorted(node) if isinstance(node, dict) else range(len(node))
                if not keys:
                    break
                key = rng.choice(list(keys))
                child = node[key]
                if not isinstance(child, dict | list) or not child or rng.random() < 0.3:
                    node[key] = rng.choice(_VALUES)
                    break
                node = child
            mutated.append(copy)
    return docs + mutated


def test_the_shipped_validator_is_the_schema_s() -> None:
    assert schema.schema_digest("networkpolicy") == generated.SCHEMA_DIGEST, (
        "schemas/networkpolicy.schema.json changed: run `python -m netlint.read.schema`"
    )
    if fastjsonschema.VERSION == generated.VERSION:
        assert Path(generated.__file__).read_text() == schema.generated_validator("networkpolicy")
    assert schema._fast("networkpolicy") is generated.validate
    compiled = fastjsonschema.compile(schema.load_schema("networkpolicy"))
    checker = jsonschema.Draft7Validator(schema.load_schema("networkpolicy"))
    policies = _policies()
    assert len(policies) > 50
    verdicts = set()
    for doc in policies:
        shipped = _passes(generated.validate, doc)
        assert shipped == _passes(compiled, doc) == checker.is_valid(doc), doc
        verdicts.add(shipped)
    assert verdicts == {True, False}


def _passes(validate: Any, doc: Any) -> bool:
    try:
        validate(doc)
    except Exception:
        return False
    return True


@pytest.mark.parametrize("edited", [False, True])
def test_an_edited_schema_is_compiled_afresh(monkeypatch: pytest.MonkeyPatch, edited: bool) -> None:
    text = schema.schema_text("networkpolicy")
    if edited:
        text = text.replace('"title"', '"$comment": "edited", "title"', 1)
    monkeypatch.setattr(schema, "schema_text", lambda name: text)
    monkeypatch.setattr(schema, "load_schema", lambda name: json.loads(text))
    schema._fast.cache_clear()
    try:
        assert (schema._fast("networkpolicy") is generated.validate) is not edited
    finally:
        schema._fast.cache_clear()


def test_the_driver_sees_what_the_cli_prints(tmp_path: Path) -> None:
    """The control for the tests above: the driver runs the real CLI."""
    repo = _git_repo(tmp_path / "repo")
    (repo / "np.yaml").write_text(POLICY)
    done, modules = _check(repo, tmp_path, "--format", "sarif")
    plain = netlint("check", "--format", "sarif", "--no-cache", cwd=repo)
    assert done.stdout == plain.stdout and '"ruleId": "NL104"' in done.stdout
    assert "netlint.output.reporters.sarif" in modules
    assert textwrap.dedent(done.stdout).startswith("{")
