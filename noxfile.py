"""Nox sessions for trioconf.

``tests`` runs on every supported Python (3.10 to 3.13) found on this machine; ``lint``,
``typing``, ``docs`` and ``build`` (the sdist and wheel, checked and installed on each Python)
are the quality gates CI runs; ``example`` runs the demo service.
Run ``python -m nox -l`` to list them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

import nox

SUPPORTED_PYTHONS = ("3.10", "3.11", "3.12", "3.13")

# Tool versions are pinned so that a new release cannot turn CI red on its own.
RUFF = "ruff==0.17.6"
MYPY = "mypy==2.4.1"
# Fetches its node package from the npm registry on first use.
PYRIGHT = "pyright==1.1.414"
SPHINX = (
    "sphinx==9.0.4; python_version >= '3.11'",
    "sphinx==8.1.3; python_version < '3.11'",
    # Reads docs/performance.md, the page the benchmark suite generates in Markdown.
    "myst-parser==5.2.0; python_version >= '3.11'",
    "myst-parser==4.0.1; python_version < '3.11'",
    # The theme attrs and cattrs publish with; this release supports Sphinx 7 to 9.
    "furo==2025.12.19",
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
    """mypy --strict on the package, and pyright's check that the public API is completely
    typed (--verifytypes: every public name's type is declared, none left to inference)."""
    # mypy checks for Python 3.10 (pyproject.toml), whose backports the package imports
    # behind version checks; pip skips them on a newer interpreter, so name them here.
    # pytest: trioconf.pytest_plugin (opt-in, for the users' own tests) imports it; the etcd
    # extra: trioconf.Etcd imports httpx (lazily, but mypy reads it); the watchfiles extra:
    # backend="watchfiles" imports it late too.
    session.install(".[etcd,watchfiles]", MYPY, PYRIGHT, "pytest>=8", *BACKPORTS)
    session.run("mypy", "--strict", "trioconf")
    # Reads the installed (non-editable) package: pyright cannot follow an editable install's
    # import hook. Fails below 100 %; types from other packages are theirs to declare.
    session.run("pyright", "--verifytypes", "trioconf", "--ignoreexternal")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the Sphinx docs with warnings as errors, and run their examples."""
    # sphinx.ext.graphviz draws docs/design.rst's diagrams with Graphviz's dot (.ci/run
    # installs it); without it the build would fail on a warning that says less.
    if shutil.which("dot") is None:
        session.error("the docs need Graphviz's dot: apt-get install graphviz")
    # The etcd extra: docs/etcd.rst's example runs trioconf.Etcd against a real etcd; the
    # watchfiles extra: docs/backends.rst's runs backend="watchfiles".
    # pytest and pytest-trio: docs/howto/testing.rst runs pytest on examples/testing/.
    session.install(".[etcd,watchfiles]", *SPHINX, "pytest>=8", "pytest-trio>=0.8")
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


BUILD_TOOLS = ("build==1.6.1", "twine==7.0.0", "check-wheel-contents==0.6.3")
# What the sdist holds besides the package: enough to rebuild the wheel, run the tests and build
# the docs from it (MANIFEST.in); compared file by file with the tree.
SDIST_FOLDERS = ("trioconf", "tests", "docs", "examples")
SDIST_FILES = ("pyproject.toml", "MANIFEST.in", "LICENSE", "noxfile.py")  # and the top-level *.md
# Run in a fresh venv holding only the wheel and its dependencies, outside the checkout (whose
# trioconf/ would otherwise be the one imported).
_IMPORT_CHECK = "import trioconf, trioconf.testing; print(trioconf.__version__, trioconf.__file__)"


def _tree_files() -> set[str]:
    """The checkout's files that git does not ignore: tracked ones, and new ones not yet added."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        msg = f"nox -s build compares the distributions with a git checkout's files: {exc}"
        raise RuntimeError(msg) from exc
    return {name for name in listed.split("\0") if name and os.path.isfile(name)}


def _source_version() -> str:
    """The version written in trioconf/_version.py (read as text: nothing is imported)."""
    with open(os.path.join("trioconf", "_version.py"), encoding="utf-8") as file:
        for line in file:
            if line.startswith("__version__ = "):
                return line.split("=", 1)[1].strip().strip("\"'")
    raise RuntimeError("trioconf/_version.py sets no __version__")


def _dist_problems(sdist: str, wheel: str, tree: set[str], version: str) -> list[str]:
    """What the sdist or the wheel holds that the tree does not, or lacks that it does."""
    with tarfile.open(sdist) as tar:
        # Every member sits under "trioconf-<version>/".
        in_sdist = {m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile()}
    wanted = {
        name
        for name in tree
        if name.split("/", 1)[0] in SDIST_FOLDERS
        or name in SDIST_FILES
        or ("/" not in name and name.endswith(".md"))
    }
    made = {"PKG-INFO", "setup.cfg"} | {n for n in in_sdist if n.startswith("trioconf.egg-info/")}
    problems = [f"missing from the sdist: {name}" for name in sorted(wanted - in_sdist)]
    problems += [f"in the sdist, not in the tree: {n}" for n in sorted(in_sdist - wanted - made)]

    with zipfile.ZipFile(wheel) as whl:
        in_wheel = {name for name in whl.namelist() if not name.endswith("/")}
    dist_info = f"trioconf-{version}.dist-info/"
    package = {name for name in tree if name.startswith("trioconf/")}
    shipped = {name for name in in_wheel if not name.startswith(dist_info)}
    problems += [f"missing from the wheel: {name}" for name in sorted(package - shipped)]
    problems += [f"in the wheel, not in the tree: {name}" for name in sorted(shipped - package)]
    if f"{dist_info}licenses/LICENSE" not in in_wheel:
        problems.append(f"missing from the wheel: {dist_info}licenses/LICENSE")
    return problems


@nox.session
def build(session: nox.Session) -> None:
    """Build the sdist and the wheel (the wheel from the sdist, which proves the sdist rebuilds),
    check them with twine and check-wheel-contents and against the tree, then install the wheel
    into a fresh venv on every supported Python found here and use it from there."""
    session.install(*BUILD_TOOLS)
    tmp = os.path.abspath(session.create_tmp())
    dist = os.path.join(tmp, "dist")
    shutil.rmtree(dist, ignore_errors=True)  # no wheel of an earlier version left to pick up
    # Built from a copy of what a clone would hold: nothing git ignores gets in (a stale
    # trioconf.egg-info/SOURCES.txt would add the files it lists, hiding a packaging mistake
    # that a fresh clone shows), and the build writes nothing into the checkout.
    tree = _tree_files()
    src = os.path.join(tmp, "src")
    shutil.rmtree(src, ignore_errors=True)
    for name in tree:
        os.makedirs(os.path.join(src, os.path.dirname(name)), exist_ok=True)
        shutil.copy2(name, os.path.join(src, name))
    session.run("python", "-m", "build", "--outdir", dist, src)
    version = _source_version()
    sdist = os.path.join(dist, f"trioconf-{version}.tar.gz")
    wheel = os.path.join(dist, f"trioconf-{version}-py3-none-any.whl")
    if sorted(os.listdir(dist)) != sorted(map(os.path.basename, (sdist, wheel))):
        session.error(
            f"expected {sdist} and {wheel} (the version in _version.py): {dist} holds "
            f"{sorted(os.listdir(dist))}"
        )
    session.run("twine", "check", "--strict", sdist, wheel)
    session.run("check-wheel-contents", wheel)
    problems = _dist_problems(sdist, wheel, tree, version)
    if problems:
        session.error("\n".join(problems))

    examples = os.path.abspath("examples")
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    for python in PYTHONS:
        base = sys.executable if python == running else shutil.which(f"python{python}")
        assert base is not None  # PYTHONS lists only interpreters that run
        venv = os.path.join(tmp, f"venv-{python}")
        session.run(base, "-m", "venv", "--clear", venv, external=True)
        bin_dir = os.path.join(venv, "Scripts" if os.name == "nt" else "bin")
        venv_python = os.path.join(bin_dir, "python")
        # The wheel alone first: importing needs nothing beyond its declared dependencies.
        session.run(venv_python, "-m", "pip", "install", "--quiet", wheel, external=True)
        with session.chdir(tmp):
            said = session.run(venv_python, "-c", _IMPORT_CHECK, external=True, silent=True)
            found, where = str(said).strip().splitlines()[-1].split(" ", 1)
            if found != version or not os.path.realpath(where).startswith(os.path.realpath(venv)):
                session.error(f"Python {python}: imported trioconf {found} from {where}")
            said = session.run(
                os.path.join(bin_dir, "trioconf"), "--version", external=True, silent=True
            )
            if str(said).strip() != f"trioconf {version}":
                session.error(f"Python {python}: trioconf --version said {said!r}")
            # A real check of the example's file against its class: formats, structuring and
            # the command line, as installed.
            session.run(
                os.path.join(bin_dir, "trioconf"),
                "check",
                os.path.join(examples, "app.toml"),
                "--schema",
                os.path.join(examples, "app.py") + ":AppConfig",
                external=True,
            )
            # The pytest plugin is opt-in and imports pytest, which its users have.
            session.run(venv_python, "-m", "pip", "install", "--quiet", "pytest>=8", external=True)
            session.run(venv_python, "-c", "import trioconf.pytest_plugin", external=True)
        session.log(f"Python {python}: the wheel installs, imports and runs (trioconf {version})")
    missing = [v for v in SUPPORTED_PYTHONS if v not in PYTHONS]
    if missing:
        session.warn(f"not installed here, so not checked: Python {', '.join(missing)}")
