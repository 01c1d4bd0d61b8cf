"""Work per namespace grows near-linearly with its policies, whatever their shape, and worker
processes never outlive the main process.

No wall-clock assertion here (bench/run.py measures time): the near-linear tests count the
algebra's box operations and NL103's selector checks for N and 4N policies of one namespace.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, lint

from netlint.analysis import algebra, hypothetical
from netlint.rules import nl103_missing_dns_egress

DNS_EGRESS = """\
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
"""


def _policy(i: int, shape: str) -> str:
    """Policy ``i`` of a namespace whose policies all have the given shape ("mixed": the four
    in turn, as bench/run.py's one-namespace corpus)."""
    if shape == "mixed":
        shape = ("same", "distinct", "nested", "ports")[i % 4]
    if shape == "same":  # one podSelector for all, identical rules: every rule covers the next
        selector, ports = "{matchLabels: {app: web}}", f"[{{port: {8000 + i % 5}}}]"
    elif shape == "distinct":  # a podSelector per policy (selecting no declared pod)
        selector, ports = f"{{matchLabels: {{app: app-{i}}}}}", "[{port: 80}]"
    elif shape == "nested":  # one podSelector, each rule's port range inside the next one's
        selector, ports = "{matchLabels: {app: web}}", f"[{{port: 1, endPort: {i + 1}}}]"
    else:  # "ports": one podSelector, rules that overlap on port 80 but never cover each other
        selector, ports = "{matchLabels: {app: web}}", f"[{{port: 80}}, {{port: {1000 + i}}}]"
    egress = DNS_EGRESS if i % 3 else "  - to: [{podSelector: {}}]\n    ports: [{port: 5432}]\n"
    return (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        f"metadata: {{name: p{i}, namespace: big}}\n"
        f"spec:\n  podSelector: {selector}\n  policyTypes: [Ingress, Egress]\n"
        f"  ingress:\n  - from: [{{podSelector: {{matchLabels: {{app: client}}}}}}]\n"
        f"    ports: {ports}\n  egress:\n{egress}---\n"
    )


WORKLOADS = "".join(
    "apiVersion: apps/v1\nkind: Deployment\n"
    f"metadata: {{name: w{j}, namespace: big}}\n"
    f"spec:\n  selector: {{matchLabels: {{app: {app}}}}}\n"
    f"  template:\n    metadata: {{labels: {{app: {app}}}}}\n"
    "    spec: {containers: [{name: c, image: nginx}]}\n---\n"
    for j, app in enumerate(["web", "client", "app-3"])
)


def write_namespace(root: Path, count: int, shape: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for start in range(0, count, 500):
        text = "".join(_policy(i, shape) for i in range(start, min(count, start + 500)))
        (root / f"policies-{start:06d}.yaml").write_text(text)
    (root / "workloads.yaml").write_text(WORKLOADS)
    return root


class Counter:
    """Counts calls of the patched functions."""

    def __init__(self) -> None:
        self.calls = 0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return function(*args, **kwargs)

        return counted


def _work(monkeypatch: pytest.MonkeyPatch, root: Path) -> tuple[int, set[str]]:
    counter = Counter()
    with monkeypatch.context() as patch:
        for name in ("intersects", "intersect", "subtract"):
            patch.setattr(algebra.Box, name, counter.wrap(getattr(algebra.Box, name)))
        # NL103's checks of policies against a hypothetical pod (its reach to DNS is asked of
        # the algebra, counted above); the rule calls the name it imported.
        patch.setattr(
            nl103_missing_dns_egress,
            "selects_hypothetical",
            counter.wrap(hypothetical.selects_hypothetical),
        )
        report = lint(root, [root], select=["NL103", "NL105", "NL206", "NL900"])
    return counter.calls, {f.code for f in report.findings}


@pytest.mark.parametrize("shape", ["same", "distinct", "nested", "ports", "mixed"])
def test_work_per_namespace_is_near_linear(
    shape: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small, small_codes = _work(monkeypatch, write_namespace(tmp_path / "n", 150, shape))
    large, large_codes = _work(monkeypatch, write_namespace(tmp_path / "4n", 600, shape))
    assert "NL900" not in small_codes | large_codes
    # Four times the policies: quadratic work would be 16 times as much, linear 4 times.
    assert small > 0
    assert large / small < 8, (shape, small, large)


def test_shapes_are_judged(tmp_path: Path) -> None:
    """The generated shapes do trigger the rules measured above (the counts are not of idle
    rules): identical rules are shadowed, and a third of the policies block DNS for their pods."""
    same = write_namespace(tmp_path / "same", 30, "same")
    assert [f.code for f in lint(same, [same], select=["NL105"]).findings].count("NL105") >= 20
    distinct = write_namespace(tmp_path / "distinct", 30, "distinct")
    blocked = [f for f in lint(distinct, [distinct], select=["NL103"]).findings]
    assert len(blocked) == 10


def test_two_thousand_policies_in_one_namespace_complete(tmp_path: Path) -> None:
    root = write_namespace(tmp_path / "repo", 2000, "same")
    # A hang guard, not a speed claim: before issue 11, NL103 and NL105 were quadratic here.
    done = subprocess.run(
        [sys.executable, "-m", "netlint", "check", "--no-cache", "--format", "json"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert '"code": "NL105"' in done.stdout
    assert '"code": "NL900"' not in done.stdout


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


def _poll(condition: Callable[[], bool], seconds: float) -> Iterator[None]:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        yield
        time.sleep(0.05)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_workers_exit_when_the_main_process_is_killed(tmp_path: Path) -> None:
    root = write_namespace(tmp_path / "repo", 4000, "ports")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    main = subprocess.Popen(
        [sys.executable, "-m", "netlint", "check", "--no-cache", "--jobs", "2"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        workers: set[int] = set()

        def started() -> bool:
            workers.update(_children(main.pid))
            return bool(workers) or main.poll() is not None

        for _ in _poll(started, 120):
            pass
        assert workers, "netlint finished without starting a worker process"
        main.send_signal(signal.SIGKILL)
        main.wait(timeout=30)
        for _ in _poll(lambda: not any(_alive(w) for w in workers), 30):
            pass
        assert not [w for w in workers if _alive(w)], "a worker outlived the main process"
    finally:
        if main.poll() is None:
            main.kill()
            main.wait(timeout=30)


#: Where ``_square_with_pid`` marks each task it ran (in whichever process ran it).
_MARKS: list[Path] = []


def _square_with_pid(number: int) -> tuple[int, int]:
    if number == 13:
        raise ValueError("task 13")
    if _MARKS:
        (_MARKS[0] / str(number)).touch()
    return number * number, os.getpid()


@pytest.mark.skipif(sys.platform != "linux", reason="forks")
def test_ordered_map_gives_results_in_order_from_several_processes() -> None:
    from netlint.run.workers import ordered_map

    results = list(ordered_map(_square_with_pid, 13, jobs=3, least=1))
    assert [value for value, _ in results] == [n * n for n in range(13)]
    # This process ran every third task itself; the workers ran the rest.
    assert all(pid == os.getpid() for n, (_, pid) in enumerate(results) if n % 3 == 0)
    assert all(pid != os.getpid() for n, (_, pid) in enumerate(results) if n % 3)
    # Below ``least`` tasks, or with one job, nothing is forked.
    assert {pid for _, pid in ordered_map(_square_with_pid, 5, jobs=3, least=6)} == {os.getpid()}
    assert {pid for _, pid in ordered_map(_square_with_pid, 5, jobs=1)} == {os.getpid()}


@pytest.mark.skipif(sys.platform != "linux", reason="forks")
def test_ordered_map_raises_a_task_s_error_and_stops_early_without_leaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netlint.run.workers import ordered_map

    # Task 13 runs in a worker (13 % 2): its error reaches the reader, in order.
    got: list[int] = []
    with pytest.raises(ValueError, match="task 13"):
        for value, _ in ordered_map(_square_with_pid, 40, jobs=2, least=1):
            got.append(value)
    assert got == [n * n for n in range(13)]
    # A reader that stops after the first result: only tasks near it were handed out (the
    # workers stay a bounded way ahead), and no worker is left behind.
    monkeypatch.setattr(sys.modules[__name__], "_MARKS", [tmp_path])
    found = ordered_map(_square_with_pid, 1000, jobs=2, least=1)
    assert next(found) == (0, os.getpid())
    found.close()
    ran = sorted(int(p.name) for p in tmp_path.iterdir())
    assert ran[0] == 0 and len(ran) <= 3, ran
    assert not [p for p in _children(os.getpid()) if _alive(p)]


def test_nl105_past_its_work_bound_is_silent_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netlint.rules import nl105_shadowed_rule
    from netlint.run import engine

    root = write_namespace(tmp_path, 40, "same")
    assert [f.code for f in lint(root, [root], select=["NL105"]).findings].count("NL105") >= 20
    monkeypatch.setattr(nl105_shadowed_rule, "WORK_BASE", 0)
    monkeypatch.setattr(nl105_shadowed_rule, "WORK_PER_RULE", 1)
    notes: list[str] = []
    original = engine.run

    def run(*args: Any, **kwargs: Any) -> Any:
        kwargs["notes"] = notes
        return original(*args, **kwargs)

    monkeypatch.setattr(engine, "run", run)
    report = lint(root, [root], select=["NL105"])
    assert [f.code for f in report.findings].count("NL105") < 20
    assert any(note.startswith("NL105: ") and "'big'" in note for note in notes), notes
