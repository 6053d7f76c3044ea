"""bizinfra: one description of a business application, compiled into everything that runs it."""

__version__ = "0.1.0"
