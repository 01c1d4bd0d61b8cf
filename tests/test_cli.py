"""The command line as users run it: a real process, real files, real exit statuses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import REPO
from helpers import INVALID_POLICY as BAD
from helpers import VALID_POLICY as GOOD
from helpers import netlint


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "bad.yaml").write_text(BAD)
    (tmp_path / "k8s" / "good.yaml").write_text(GOOD.replace("name: api", "name: web"))
    return tmp_path


def test_version(tmp_path: Path) -> None:
    out = netlint("--version", cwd=tmp_path)
    assert out.returncode == 0 and re.fullmatch(r"netlint \S+\n", out.stdout)


def test_text_output_format_and_exit_status(project: Path) -> None:
    out = netlint("check", cwd=project)
    assert out.returncode == 1, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == (
        "k8s/bad.yaml:8:17: NL002 error: spec.policyTypes[0] must be one of Ingress, Egress, "
        "not 'ingress' (values are case-sensitive: 'Ingress') [invalid-manifest]"
    )
    assert lines[-1].startswith("1 finding (1 error) in 2 files (2 policies")
    assert out.stderr == ""


def test_paths_are_relative_to_the_current_directory(project: Path) -> None:
    out = netlint("check", ".", cwd=project / "k8s")
    assert out.stdout.startswith("bad.yaml:8:17: NL002")


def test_clean_project_exits_zero(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(GOOD)
    out = netlint("check", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("0 findings in 1 files")


def test_check_is_the_default_command(project: Path) -> None:
    assert netlint("k8s/bad.yaml", cwd=project).returncode == 1
    assert netlint("--format", "json", cwd=project).returncode == 1


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (["--fail-on", "never"], 0),
        (["--fail-on", "error"], 1),
        (["--select", "NL001"], 0),
        (["--select", "NL0"], 1),
        (["--ignore", "invalid-manifest"], 0),
        (["--ignore", "NL001,NL002"], 0),
        (["--select", "NL999"], 2),
        (["--format", "yaml"], 2),
        (["missing-dir"], 2),
    ],
)
def test_options_and_exit_statuses(project: Path, args: list[str], status: int) -> None:
    out = netlint("check", *args, cwd=project)
    assert out.returncode == status, out.stdout + out.stderr
    if status == 2:
        assert out.stderr and "Traceback" not in out.stderr


def test_json_output_follows_its_schema(project: Path) -> None:
    out = netlint("check", "--format", "json", cwd=project)
    document = json.loads(out.stdout)
    schema = json.loads((REPO / "schemas" / "findings.schema.json").read_text())
    jsonschema.Draft7Validator(schema).validate(document)
    finding = document["findings"][0]
    assert (finding["path"], finding["line"], finding["column"]) == ("k8s/bad.yaml", 8, 17)
    assert finding["subject"] == "NetworkPolicy/shop/api" and finding["severity"] == "error"
    assert document["summary"]["policies"] == 2


def test_github_workflow_commands(project: Path) -> None:
    out = netlint("check", "--format", "github", cwd=project)
    assert out.stdout.startswith(
        "::error file=k8s/bad.yaml,line=8,col=17,endLine=8,endColumn=24,"
        "title=NL002 invalid-manifest::spec.policyTypes[0] must be one of"
    )


def test_output_file_and_summary_on_stderr(project: Path) -> None:
    out = netlint("check", "--format", "sarif", "--output", "out.sarif", cwd=project)
    assert out.returncode == 1 and out.stdout == ""
    assert "1 finding" in out.stderr
    log = json.loads((project / "out.sarif").read_text())
    assert log["runs"][0]["results"][0]["ruleId"] == "NL002"


def test_config_file_sets_severity_and_fail_on(project: Path) -> None:
    (project / ".netlint.yaml").write_text("rules:\n  invalid-manifest:\n    severity: note\n")
    out = netlint("check", cwd=project)
    assert out.returncode == 0, out.stdout
    assert "NL002 note:" in out.stdout
    (project / ".netlint.yaml").write_text("fail-on: note\n")
    assert netlint("check", cwd=project).returncode == 1
    (project / ".netlint.yaml").write_text("rules:\n  NL002: {severity: off}\n")
    assert "0 findings" in netlint("check", cwd=project).stdout


def test_config_in_pyproject(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.netlint]\nignore = ["NL002"]\n'
    )
    assert netlint("check", cwd=project).returncode == 0


@pytest.mark.parametrize(
    ("config", "where", "text"),
    [
        ("exclude: [a]\nignroe: [NL104]\n", ":2:1:", "unknown setting 'ignroe'"),
        ("fail-on: sometimes\n", ":1:10:", "fail-on"),
        ("rules:\n  NL002:\n    severity: loud\n", ":3:15:", "rules.NL002.severity"),
        ("rules:\n  NL002:\n    colour: red\n", ":3:5:", "has no option 'colour'"),
        ("rules:\n  NL777: {severity: off}\n", ":2:3:", "no rule has this code or name"),
        ("select: [NL1\n", ":2:1:", "while parsing a flow sequence"),
    ],
)
def test_config_errors_name_file_line_and_key(
    project: Path, config: str, where: str, text: str
) -> None:
    (project / ".netlint.yaml").write_text(config)
    out = netlint("check", cwd=project)
    assert out.returncode == 2
    assert f".netlint.yaml{where}" in out.stderr and text in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_stdin_filename_lints_the_buffer_with_the_repo_as_context(project: Path) -> None:
    out = netlint("check", "--stdin-filename", "k8s/good.yaml", "-", cwd=project, stdin=BAD)
    assert out.returncode == 1
    assert out.stdout.startswith("k8s/good.yaml:8:17: NL002")
    assert "bad.yaml" not in out.stdout  # only the buffer's findings are reported


def test_gitignore_is_honoured_in_a_git_repo(project: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    (project / ".gitignore").write_text("k8s/bad.yaml\n")
    out = netlint("check", cwd=project)
    assert out.returncode == 0 and out.stdout.startswith("0 findings in 1 files"), out.stdout


def test_exclude_globs_from_config(project: Path) -> None:
    (project / ".netlint.yaml").write_text("exclude: ['**/bad.yaml']\n")
    assert netlint("check", cwd=project).returncode == 0


def test_symlinks_out_of_the_root_are_not_followed(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.yaml"
    outside.write_text(BAD)
    (project / "k8s" / "link.yaml").symlink_to(outside)
    out = netlint("check", "--verbose", cwd=project)
    assert "link.yaml: symlink to a file outside the root" in out.stderr
    assert "secret" not in out.stdout and out.stdout.count("NL002") == 1


def test_templated_files_are_skipped_and_counted(project: Path) -> None:
    chart = project / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (chart / "templates" / "np.yaml").write_text("metadata:\n  name: {{ .Release.Name }}\n")
    (project / "k8s" / "inline.yaml").write_text("kind: ConfigMap\ndata:\n  {{- toYaml .x }}\n")
    out = netlint("check", "--verbose", cwd=project)
    assert "2 templated files skipped" in out.stdout
    assert "skipped chart/templates/np.yaml: templated" in out.stderr
    assert "skipped k8s/inline.yaml: templated" in out.stderr


def test_rules_catalogue_and_explanation(tmp_path: Path) -> None:
    out = netlint("rules", cwd=tmp_path)
    assert out.returncode == 0
    assert re.search(r"^NL002  invalid-manifest +error ", out.stdout, re.MULTILINE)
    explained = netlint("rules", "invalid-manifest", cwd=tmp_path)
    assert explained.stdout.startswith(
        "NL002 invalid-manifest (default severity: error; added in 0.1.0)"
    )
    assert "Flagged:" in explained.stdout and "Accepted:" in explained.stdout
    assert "# expect" not in explained.stdout
    assert netlint("rules", "NL777", cwd=tmp_path).returncode == 2


def test_console_script_is_installed(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "netlint"
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and out.stdout.startswith("netlint ")
