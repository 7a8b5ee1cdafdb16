"""Nox sessions for trioconf.

``tests`` runs on every supported Python (3.10 to 3.13) found on this machine; ``lint``,
``typing`` and ``docs`` are the quality gates CI runs; ``example`` runs the demo service.
Run ``python -m nox -l`` to list them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import nox

SUPPORTED_PYTHONS = ("3.10", "3.11", "3.12", "3.13")

# Tool versions are pinned so that a new release cannot turn CI red on its own.
RUFF = "ruff==0.17.6"
MYPY = "mypy==2.4.1"
SPHINX = (
    "sphinx==9.0.4; python_version >= '3.11'",
    "sphinx==8.1.3; python_version < '3.11'",
    # Reads docs/performance.md, the page the benchmark suite generates in Markdown.
    "myst-parser==5.2.0; python_version >= '3.11'",
    "myst-parser==4.0.1; python_version < '3.11'",
)

BACKPORTS = ("exceptiongroup>=1.2", "typing-extensions>=4.8")

nox.options.default_venv_backend = "venv"
# Never fetch an interpreter from the network: test on what is installed, and say so.
nox.options.download_python = "never"
nox.options.sessions = ["tests", "lint", "typing", "docs"]


def _pyenv_versions(pyenv: str) -> list[str]:
    """The newest installed pyenv version of each supported minor, e.g. ``3.10.13``."""
    bare = subprocess.run(
        [pyenv, "versions", "--bare", "--skip-aliases"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    newest: list[str] = []
    for minor in SUPPORTED_PYTHONS:
        patches = [v for v in bare if v.startswith(f"{minor}.") and v[len(minor) + 1 :].isdigit()]
        if patches:
            newest.append(max(patches, key=lambda v: int(v.rsplit(".", 1)[1])))
    return newest


def _expose_pyenv_interpreters() -> None:
    """Make pyenv's shims answer for ``python3.10`` and friends.

    pyenv installs shims for every version it knows, but a shim only runs a version that is
    selected; the others fail with "command not found". Selecting them all (the current
    selection first, so that ``python3`` stays what it was) lets nox use every interpreter
    that is installed instead of skipping it.
    """
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return
    current = (
        os.environ.get("PYENV_VERSION")
        or subprocess.run(
            [pyenv, "version-name"], capture_output=True, text=True, check=False
        ).stdout.strip()
    )
    selected = [v for v in current.split(":") if v]
    selected += [v for v in _pyenv_versions(pyenv) if v not in selected]
    if selected:
        os.environ["PYENV_VERSION"] = ":".join(selected)


def _runs(executable: str) -> bool:
    try:
        return subprocess.run([executable, "-c", "pass"], capture_output=True).returncode == 0
    except OSError:
        return False


def _installed_pythons() -> list[str]:
    """Supported versions that actually run here.

    With ``CI=true`` nox fails a session whose interpreter is missing, so only versions that
    are present are listed; the running interpreter always counts.
    """
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    found = []
    for version in SUPPORTED_PYTHONS:
        exe = shutil.which(f"python{version}")
        if version == running or (exe is not None and _runs(exe)):
            found.append(version)
    return found


_expose_pyenv_interpreters()
PYTHONS = _installed_pythons()


COVERAGE = "coverage==7.17.3"
# Branch coverage is measured on one interpreter, the one nox runs under: the figure is the
# same on every version, and the tracer slows the suite by about 40 %.
COVERED_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite against an installed (non-editable) trioconf; on the interpreter
    nox runs under, with branch coverage, and print the figure."""
    if session.python != COVERED_PYTHON:
        session.install(".[test]")
        session.run("pytest", *session.posargs)
        return
    session.install(".[test]", COVERAGE)
    data = os.path.join(session.create_tmp(), ".coverage")
    env = {"COVERAGE_FILE": data}
    session.run(
        "coverage",
        "run",
        "--branch",
        "--source=trioconf",
        "-m",
        "pytest",
        "-m",
        "not measures_memory",
        *session.posargs,
        env=env,
    )
    # tracemalloc would count the tracer's own records as the code's memory: those tests run
    # untraced (5: the arguments selected none of them).
    session.run("pytest", "-m", "measures_memory", *session.posargs, success_codes=[0, 5])
    session.run("coverage", "report", "--sort=cover", "--skip-covered", env=env)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check (ASYNC rules included, see pyproject.toml) and ruff format --check."""
    session.install(RUFF)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict on the package."""
    # mypy checks for Python 3.10 (pyproject.toml), whose backports the package imports
    # behind version checks; pip skips them on a newer interpreter, so name them here.
    # pytest: trioconf.pytest_plugin (opt-in, for the users' own tests) imports it; the etcd
    # extra: trioconf.Etcd imports httpx (lazily, but mypy reads it).
    session.install(".[etcd]", MYPY, "pytest>=8", *BACKPORTS)
    session.run("mypy", "--strict", "trioconf")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the Sphinx docs with warnings as errors, and run their examples."""
    # The etcd extra: docs/etcd.rst's example runs trioconf.Etcd against a real etcd.
    session.install(".[etcd]", *SPHINX)
    session.run("sphinx-build", "-W", "--keep-going", "-E", "-b", "html", "docs", "docs/_build")
    # Runs every ``testcode`` example against the installed trioconf, with real files.
    session.run(
        "sphinx-build", "-W", "--keep-going", "-E", "-b", "doctest", "docs", "docs/_build/doctest"
    )


@nox.session
def example(session: nox.Session) -> None:
    """Run examples/app.py; edit examples/app.toml while it runs. Ctrl-C stops it."""
    session.install(".")
    session.run("python", "examples/app.py", *session.posargs)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """The benchmark suite (bench/): ``nox -s bench`` runs it all (about a quarter of an hour)
    and rewrites docs/performance.md, bench/results.json and the figures;
    ``nox -s bench -- --quick --no-write`` is the smoke run CI makes (under a minute, writes
    nothing). The full run is not a CI default: its figures need a quiet machine.

    watchfiles, watchdog, pydantic and matplotlib are contenders or plotting tools, installed
    here only: none of them is a dependency of trioconf. A ``--no-write`` run draws nothing, so
    it skips matplotlib (the largest install) and writes no bytecode into the tree either.
    """
    writes = "--no-write" not in session.posargs
    plotting = ("matplotlib",) if writes else ()
    session.install(".", "watchfiles", "watchdog", *plotting, "pydantic>=2", "ruamel.yaml.clib")
    env = {} if writes else {"PYTHONDONTWRITEBYTECODE": "1"}
    session.run("python", "-m", "bench", *session.posargs, env=env)
