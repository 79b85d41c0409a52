"""The README and the guides are true: every shell block runs, every command is real.

Every fenced ``sh``/``bash``/``shell`` block of README.md and docs/*.md runs, in document order,
in bash (``-e -o pipefail``) against one small demo built once for the session (SQLite, a
temporary data folder) and a real ``ehe-gateway serve`` on a free loopback port; the docs' port
8000 is rewritten to it. Commands see a checkout-shaped working folder: the repository's files,
with ``data/`` the demo's data folder, so ``data/...`` and ``$PWD/dags`` mean what they mean in a
checkout. A block that must not run has ``<!-- not-tested: reason -->`` on the line before it;
``<!-- doc-test: prepare=NAME exit=N -->`` runs a named preparation first (``PREPARATIONS``) and
expects exit code N. Blocks in other fences (``console``, ``text``, none) are not run.

Every ``ehe-gateway`` command line, in blocks and in inline code, is checked against the CLI
itself (the reference ``--help`` prints): the command exists and takes each option given, and a
command line in a block gives every required option. Every CLI command is documented somewhere.

Cost: about a minute and a half on a shared 2-core machine, most of it the demo build.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import TEST_DAY

from connectors.registry import CONNECTORS

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN_FENCES = {"sh", "bash", "shell"}
DEMO_CHILDREN = 200
DEMO_SEED = 20261129  # the Makefile's DEMO_SEED: the quick start's NHS number is in this demo
BIN = Path(sys.executable).parent
DOC_PORT = "127.0.0.1:8000"

FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)\s*$")
MARKER = re.compile(r"<!--\s*(?P<kind>not-tested|doc-test):?\s*(?P<text>.*?)\s*-->")
INLINE = re.compile(r"`([^`]+)`")


@dataclass
class Block:
    path: Path
    line: int
    lang: str
    text: str
    skip: str | None = None  # the reason, for a block marked not-tested
    options: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks_of(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, each with the marker comment just before it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, lang = len(opening["indent"]), opening["lang"]
        body: list[str] = []
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            body.append(lines[j][indent:])
            j += 1
        block = Block(path, i + 1, lang, "\n".join(body) + "\n")
        before = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        marker = MARKER.search(before)
        if marker and marker["kind"] == "not-tested":
            block.skip = marker["text"]
        elif marker:
            block.options = dict(part.split("=", 1) for part in marker["text"].split())
        found.append(block)
        i = j + 1
    return found


ALL_BLOCKS = [b for path in DOCS for b in blocks_of(path)]
SHELL_BLOCKS = [b for b in ALL_BLOCKS if b.lang in RUN_FENCES]


# --- the CLI reference: the commands and options `--help` shows ---------------------------------


def cli_commands() -> dict[tuple[str, ...], Any]:
    """Every ehe-gateway command (groups included) by its path of names."""
    import typer

    from gateway.cli import app

    found: dict[tuple[str, ...], Any] = {}

    def walk(command: Any, path: tuple[str, ...]) -> None:
        found[path] = command
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return found


def command_lines(script: str) -> list[list[str]]:
    """The ehe-gateway invocations in a shell script, as argument lists (pipes and $(...) too)."""
    joined = re.sub(r"\\\n\s*", " ", script)
    out = []
    word = r"(?:\"[^\"]*\"|'[^']*'|[^\s|;&)#`]+)"
    for match in re.finditer(rf"ehe-gateway((?:[ \t]+{word})*)", joined):
        out.append(shlex.split(match[1], comments=False))
    return out


def check_command(words: list[str], *, complete: bool) -> list[str]:
    """What is wrong with one ehe-gateway command line, by the CLI's own definitions."""
    commands = cli_commands()
    path: tuple[str, ...] = ()
    rest = list(words)
    while rest:
        group = commands[path]
        group_options = {o: p for p in group.params for o in p.opts}
        if rest[0] in group_options and getattr(group, "commands", None):
            taken = rest.pop(0)
            if not group_options[taken].is_flag and rest:
                rest.pop(0)
        elif (*path, rest[0]) in commands:
            path = (*path, rest.pop(0))
        else:
            break
    command = commands[path]
    problems = []
    if getattr(command, "commands", None) and not any(w == "--help" for w in rest):
        following = rest[0] if rest else "(nothing)"
        problems.append(f"`ehe-gateway {' '.join(path)}` has no command {following!r}")
        return problems
    options = {o: p for p in command.params for o in (*p.opts, *p.secondary_opts)}
    given = {w.split("=", 1)[0] for w in rest if w.startswith("--")}
    for option in sorted(given - set(options) - {"--help"}):
        problems.append(f"`ehe-gateway {' '.join(path)}` has no option {option}")
    if complete and "--help" not in given:
        for param in command.params:
            if param.required and param.param_type_name == "option":
                if not given & set(param.opts):
                    problems.append(f"`ehe-gateway {' '.join(path)}` needs {param.opts[0]}")
    return problems


def test_every_command_in_the_docs_exists_with_its_options() -> None:
    problems = []
    for block in ALL_BLOCKS:
        if block.lang in RUN_FENCES:
            for words in command_lines(block.text):
                problems += [f"{block.id}: {p}" for p in check_command(words, complete=True)]
    groups = {path[0] for path in cli_commands() if len(path) == 2}
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for match in INLINE.finditer(text):
            words = match[1].split()
            if words[:1] == ["ehe-gateway"] and len(words) > 1:
                words = words[1:]
            elif words == ["ehe-gateway"] or not (len(words) > 1 and words[0] in groups):
                continue  # inline code that is not an ehe-gateway command line
            words = [w for w in words if not w.startswith(("[", "<", "$"))]
            number = text.count("\n", 0, match.start()) + 1
            problems += [
                f"{path.relative_to(ROOT)}:{number}: {p}"
                for p in check_command(words, complete=False)
            ]
    assert not problems, "\n".join(problems)


def test_every_cli_command_is_documented_and_has_help() -> None:
    from typer.testing import CliRunner

    from gateway.cli import app

    text = "\n".join(p.read_text(encoding="utf-8") for p in DOCS)
    runner = CliRunner()
    missing = []
    for path, command in cli_commands().items():
        if not path:
            continue
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert (command.help or "").split("\n")[0].split()[0] in result.output
        named = re.search(rf"(`|ehe-gateway ){re.escape(' '.join(path))}\b", text)
        if not getattr(command, "commands", None) and not named:
            missing.append(" ".join(path))
    assert not missing, f"commands no guide mentions: {', '.join(missing)}"


def test_the_connections_table_covers_every_registered_source() -> None:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = [s for s in CONNECTORS if f"AIRFLOW_CONN_EHE_{s.upper()}=" not in text]
    assert not missing, f"no Connection example for {', '.join(missing)}"


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_links_between_the_docs_lead_somewhere() -> None:
    broken = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            file, _, anchor = target.partition("#")
            linked = (path.parent / file).resolve() if file else path
            if not linked.exists():
                broken.append(f"{path.name}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{path.name}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_a_block_not_tested_says_why() -> None:
    unexplained = [b.id for b in ALL_BLOCKS if b.skip is not None and len(b.skip) < 10]
    assert not unexplained, f"not-tested without a reason: {unexplained}"


# --- the demo, a server, and running the blocks ---------------------------------------------------


@dataclass
class Demo:
    work: Path  # checkout-shaped working folder
    data: Path
    env: dict[str, str]
    port: int

    def run(
        self, *args: str, extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "ehe-gateway"), *args],
            cwd=self.work,
            env={**self.env, **(extra or {})},
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _must(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{result.args}: {result.stdout[-2000:]}{result.stderr[-2000:]}"


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """`make demo` at DEMO_CHILDREN=200 in a temporary data folder, and `ehe-gateway serve`."""
    base = tmp_path_factory.mktemp("docs")
    data, work = base / "data", base / "work"
    work.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in ("data", ".git"):
            (work / entry.name).symlink_to(entry)
    data.mkdir()
    (work / "data").symlink_to(data)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EHE_", "AIRFLOW", "BENCH_"))}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        EHE_DATA_DIR=str(data),
        EHE_TODAY=TEST_DAY.isoformat(),  # the blocks' answers must not change with the calendar
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        GX_ANALYTICS_ENABLED="False",
    )
    d = Demo(work, data, env, _free_port())
    # The Makefile's demo as CLI commands in one process (each start costs a second or more of
    # CPU), with the ingest DAGs' work done by `ingest`: the same pipeline functions the DAGs
    # call; Airflow itself is exercised by the guide's `airflow dags test` block.
    steps = [
        ["synth", "--children", str(DEMO_CHILDREN), "--seed", str(DEMO_SEED)],
        ["db", "upgrade"],
        *(["ingest", s] for s, cls in CONNECTORS.items() if cls.in_demo),
        ["linkage", "train", "--if-missing"],
        ["link"],
    ]
    script = "import json, sys\nfrom gateway.cli import app\n" + (
        "for args in json.loads(sys.argv[1]):\n    app(args, standalone_mode=False)\n"
    )
    _must(
        subprocess.run(
            [str(BIN / "python"), "-c", script, json.dumps(steps)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
    )
    server = subprocess.Popen(
        [str(BIN / "ehe-gateway"), "serve", "--port", str(d.port), "--workers", "1"],
        cwd=work,
        env={**env, "EHE_DEMO_MODE": "true"},  # as the quick start starts it
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{d.port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, "ehe-gateway serve stopped"
            assert time.monotonic() < deadline, "ehe-gateway serve did not answer in 60 s"
            time.sleep(0.3)
        yield d
    finally:
        server.terminate()
        server.wait(timeout=30)


def _prepare_gated_batch(demo: Demo) -> dict[str, str]:
    """A CTF delivery sent again with a comment added, stopped whole by a strict held-share gate.

    Under the default gate it loads: so releasing it (the documented fix) loads it.
    """
    ctf = next((demo.data / "inbox" / "education" / "ctf").glob("*.xml"))
    resent = demo.data / "resent"
    resent.mkdir(exist_ok=True)
    copy = resent / ctf.name
    copy.write_bytes(ctf.read_bytes() + b"\n<!-- resent -->\n")
    result = demo.run(
        "ingest", "education__ctf", "--path", str(copy), extra={"EHE_MAX_HELD_SHARE": "0.001"}
    )
    assert result.returncode == 3, result.stdout + result.stderr
    return {}


def _prepare_new_index(demo: Demo) -> dict[str, str]:
    """An index database no migration has run on yet (the same one for each block using it)."""
    return {"EHE_INDEX_URL": f"sqlite:///{demo.data / 'new-index.sqlite'}"}


def _prepare_airflow_metadata(demo: Demo) -> dict[str, str]:
    """Airflow's metadata database, as `ehe-gateway run-dags` in `make demo` leaves it."""
    _must(
        subprocess.run(
            [
                str(BIN / "python"),
                "-c",
                "from gateway.airflow_runner import migrate_metadata as m; m()",
            ],
            cwd=demo.work,
            env=demo.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
    )
    return {}


PREPARATIONS: dict[str, Callable[[Demo], dict[str, str]]] = {
    "gated-batch": _prepare_gated_batch,
    "new-index": _prepare_new_index,
    "airflow-metadata": _prepare_airflow_metadata,
}


@pytest.mark.slow
@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=[b.id for b in SHELL_BLOCKS])
def test_shell_block_runs(block: Block, demo: Demo) -> None:
    if block.skip is not None:
        pytest.skip(f"not-tested: {block.skip}")
    extra: dict[str, str] = {}
    if "prepare" in block.options:
        extra = PREPARATIONS[block.options["prepare"]](demo)
    script = block.text.replace(DOC_PORT, f"127.0.0.1:{demo.port}")
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=demo.work,
        env={**demo.env, **extra},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    expected = int(block.options.get("exit", "0"))
    assert result.returncode == expected, (
        f"{block.id} exited {result.returncode}, not {expected}:\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )


def test_blocks_are_collected() -> None:
    """The collector finds the README's quick start and marks the blocks that must not run."""
    readme = [b for b in SHELL_BLOCKS if b.path.name == "README.md"]
    assert any("api/v1/lookup" in b.text and b.skip is None for b in readme)
    assert any(b.skip and "make demo" in b.text for b in readme)
    assert shutil.which("bash")
