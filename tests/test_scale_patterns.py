"""Many exclude patterns: the common shapes are decided by lookups (exactly as the automaton
would), the automaton runs only for the rest under one cache bound, and a config may give at
most MAX_AUTOMATON_GLOBS of those."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

from helpers import netlint

from netlint.read.discover import _MAX_CACHED, MAX_AUTOMATON_GLOBS, Glob, GlobSet

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: p{n}
  namespace: ns{n}
spec:
  podSelector: {{}}
  policyTypes: [Ingress]
"""


def _literal(rnd: random.Random) -> str:
    return "".join(rnd.choice("ab.") for _ in range(rnd.randint(1, 3)))


def _shaped_pattern(rnd: random.Random) -> str:
    """A pattern of one of the shapes GlobSet buckets, or a near miss that it must not."""
    name, path = _literal(rnd), "/".join(_literal(rnd) for _ in range(rnd.randint(1, 2)))
    return rnd.choice(
        [
            name,
            name + "/",
            "**/" + name,
            "**/" + name + "/**",
            "*" + name,
            "**/*" + name,
            name + "*",
            "*" + name + "*",
            "**" + name,
            name + "**",
            path,
            "/" + path,
            "/" + path + "/",
            path + "/**",
            path + "*",
            path + "**",
            "**/" + path,
            path + "/*" + name,
            "?" + name,
            "[ab]" + name,
        ]
    )


def _path(rnd: random.Random) -> str:
    segments = ("".join(rnd.choice("ab.") for _ in range(rnd.randint(1, 4))) for _ in "abcd")
    return "/".join(list(segments)[: rnd.randint(1, 4)])


def test_a_set_matches_exactly_what_its_globs_match() -> None:
    """Differential: the lookups agree with the automaton, pattern by pattern and for sets."""
    rnd = random.Random(20240611)
    paths = [_path(rnd) for _ in range(300)]
    patterns = [_shaped_pattern(rnd) for _ in range(600)]
    globs = [Glob(p) for p in patterns]
    kinds = {glob.kind[0] if glob.kind else None for glob in globs}
    assert kinds == {None, "name", "suffix", "prefix", "directory", "path", "path-prefix"}
    for pattern, glob in zip(patterns, globs, strict=True):
        alone = GlobSet([pattern])
        assert [alone.match(p) for p in paths] == [glob.match(p) for p in paths], pattern
    for size in (3, 30, 300):
        chosen = rnd.sample(range(len(patterns)), size)
        together = GlobSet(patterns[i] for i in chosen)
        for path in paths:
            assert together.match(path) == any(globs[i].match(path) for i in chosen), path


def test_the_automaton_runs_only_for_general_patterns() -> None:
    simple = [f"x{i}" for i in range(10_000)] + [f"*.x{i}" for i in range(10_000)]
    general = ["a*b/c.yaml", "**/gen?/*.json", "k8s/**/tmp-*.yaml"]
    matcher = GlobSet(simple + general)
    assert len(matcher.general) == len(general)
    paths = [f"team{i % 7}/app{i}/policy.yaml" for i in range(1000)]
    paths += [f"team{i % 7}/x{i}/policy.yaml" for i in range(500)]  # a literal name
    paths += [f"team{i % 7}/policy.x{i}" for i in range(500)]  # a suffix
    matched = [matcher.match(p) for p in paths]
    assert matched == [False] * 1000 + [True] * 1000
    # Each unmatched path costs one automaton run per general pattern; matched ones none.
    assert matcher.automaton_runs == 1000 * len(general)


def test_the_transition_cache_is_bounded_across_patterns() -> None:
    matcher = GlobSet(f"d{i}/**/*x{i}?.yaml" for i in range(50))
    for i in range(3000):
        assert not matcher.match(f"d{i % 50}/s{i}/t{i}/u{i}.yaml")
    assert 0 < matcher.cached <= _MAX_CACHED


def _many_files(repo: Path, count: int) -> None:
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, timeout=60)
    for n in range(count):
        folder = repo / f"team{n % 20}" / f"app{n}"
        folder.mkdir(parents=True)
        (folder / "policy.yaml").write_text(POLICY.format(n=n))


def test_twenty_thousand_simple_patterns_over_two_thousand_files_finish(tmp_path: Path) -> None:
    """Was over 300 s (one automaton per pattern and path); a hang guard, not a timing."""
    _many_files(tmp_path, 2000)
    lines = ["exclude:"]
    lines += [f'  - "x{i}"' for i in range(10_000)]
    lines += [f'  - "*.x{i}"' for i in range(9_000)]
    # These do match: half the apps, by literal directory name.
    lines += [f'  - "app{n}"' for n in range(0, 2000, 2)]
    (tmp_path / ".netlint.yaml").write_text("\n".join(lines) + "\n")
    out = netlint("check", "--no-cache", "--select", "NL104", cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "in 1000 files" in out.stdout, out.stdout


def test_more_general_patterns_than_the_cap_are_a_usage_error(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True, timeout=60)
    (tmp_path / "np.yaml").write_text(POLICY.format(n=0))
    lines = ["exclude:"] + [f'  - "x{i}"' for i in range(5000)]  # no limit on these
    lines += [f'  - "a*b{i}/*.yaml"' for i in range(MAX_AUTOMATON_GLOBS)]
    config = tmp_path / ".netlint.yaml"
    config.write_text("\n".join(lines) + "\n")
    assert netlint("check", "--no-cache", cwd=tmp_path).returncode == 0
    config.write_text("\n".join([*lines, '  - "c*d/*.yaml"']) + "\n")
    out = netlint("check", "--no-cache", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    line = 2 + 5000 + MAX_AUTOMATON_GLOBS
    assert f".netlint.yaml:{line}:" in out.stderr, out.stderr
    assert f"exclude[{5000 + MAX_AUTOMATON_GLOBS}]" in out.stderr, out.stderr
    assert f"more than {MAX_AUTOMATON_GLOBS} exclude patterns" in out.stderr, out.stderr
