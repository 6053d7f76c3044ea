"""The version, in its one place: the package metadata (pyproject.toml), `bizinfra --version` and
`bizinfra.__version__` all read it. Each release adds its section to CHANGELOG.md."""

__version__ = "0.1.0"
