"""Developer sessions: `nox -s tests lint typecheck check`; `nox -s fast` for the fast tier on every change."""

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "check"]


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def fast(session: nox.Session) -> None:
    """The fast tier: no external judge, nothing slow, hypothesis's `dev` budget (tests/conftest.py)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "not judge and not slow", *session.posargs, env={"HYPOTHESIS_PROFILE": "dev"})


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "examples", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session
def check(session: nox.Session) -> None:
    session.install(".")
    session.run("python", "-m", "bizinfra", "check")
