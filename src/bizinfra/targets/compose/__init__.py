"""Local development target: docker compose, the Dockerfile, the database init script and `.env.example`."""

from bizinfra.targets.compose.compose import compile_compose

__all__ = ["compile_compose"]
