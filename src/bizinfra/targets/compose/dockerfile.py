"""The seed's multi-stage NestJS Dockerfile, once per platform: pinned base, production dependencies only, non-root,
under an init process.

Services differ only in build arguments (`ServicePlan.build_args`, which CI and compose both pass: the Node release,
the install, build, prune and start commands, the build's output folder, the port and health path), so one file
serves every service, a Next.js front end beside NestJS services, instead of one nearly identical file each.

The builder copies the whole repository, less what `Dockerfile.dockerignore` beside it leaves out, rather than
naming folders: a workspace may or may not have libs/, a tsconfig.base.json, an npm or a pnpm lockfile, and a
COPY of a path that does not exist fails the build. The price is that the install is not a layer of its own
that survives a source change: npm's cache is a BuildKit cache mount, so a reinstall downloads only what changed.

A `migrate` stage is each service's migration image: the builder before its prune (the migration tool is usually a
dev dependency), so it has the whole repository's schema and every dependency. CI pushes it beside the service's
image, and the release's migration Job runs `delivery.migrate` in it (targets/kubernetes/migrations.py).
"""

from __future__ import annotations

import json

from bizinfra.naming import MIGRATE_STAGE
from bizinfra.plan import APP_USER_ID, ServicePlan
from bizinfra.spec.node import pinned_node

# The release an unset NODE_VERSION builds from: delivery.node_version's default line. CI and compose always pass
# it. The image is named in FROM with its tag, `node:<release>-alpine`, so hadolint and checkov see a pinned tag.
DEFAULT_NODE_RELEASE = pinned_node("24")
# tini as PID 1 forwards SIGTERM to the server and reaps zombies; node as PID 1 ignores SIGTERM (no handler is
# installed for PID 1 by default), so every stop would wait out the whole grace period before SIGKILL. Kubernetes
# has no `docker run --init`, so it is in the image. 0.19 is tini's latest release line (since 2020); `~` takes
# Alpine's packaging revision of it, which differs between Alpine releases of the same Node tag.
TINI = "tini=~0.19"
# What the build context leaves out: dependencies and outputs (installed and built inside), git's and editors'
# files, local secrets, and the generated tree (every image would be rebuilt on any regenerated file).
DOCKERIGNORE = (".git", "**/node_modules", "dist", "tmp", "coverage", ".nx", ".env", ".env.*", "**/*.log",
                "generated", ".github", ".vscode", ".idea")
# health_command's check, with the port and path read from the container's environment when it runs.
# The image's command: the shell reads START from the environment and replaces itself with the server.
START_COMMAND = 'eval "exec $START"'
# A worker that listens to nothing builds with an empty PORT: nothing to check here (compose and Kubernetes run its
# own health_command).
HEALTH_CHECK = 'test -z "$PORT" || wget --quiet --spider "http://127.0.0.1:${PORT}${HEALTH_PATH}" || exit 1'


def health_command(service: ServicePlan) -> list[str]:
    """Compose's check: a web service ready, as services that depend on it wait for (its readiness path); a worker
    alive, by its own command or its metrics path. Alpine's busybox has wget, not curl; 127.0.0.1, since
    `localhost` may resolve to ::1 first."""
    if service.health_command:
        return ["sh", "-c", service.health_command]
    path = service.probes.readiness if service.takes_requests else service.liveness_path
    return ["wget", "--quiet", "--spider", f"http://127.0.0.1:{service.port}{path}"]


def dockerignore() -> str:
    """`<Dockerfile>.dockerignore`: BuildKit reads it beside the Dockerfile in preference to one at the context's
    root, so the application's repository needs no file of its own."""
    return "".join(f"{pattern}\n" for pattern in DOCKERIGNORE)


def dockerfile() -> str:
    return f"""# One Dockerfile for every service of the platform; CI and compose pass each service's values from the spec:
#   --build-arg NODE_VERSION=<the Node.js release of the service, such as 24.21.0>
#   --build-arg INSTALL=<installs the dependencies>  BUILD=<builds the service>  OUTPUT=<the folder BUILD writes>
#   --build-arg PRUNE=<drops the development dependencies>  START=<starts the server from dist/>
#   --build-arg PORT=<the port it listens on; empty for a worker that listens to nothing>
#   --build-arg HEALTH_PATH=<the path that answers 200 when it is healthy (a worker's: its metrics path)>
# Build context: the application's repository root, less what Dockerfile.dockerignore beside this file leaves out.
ARG NODE_VERSION={DEFAULT_NODE_RELEASE}

# Build stage: every dependency, then the build of the service.
FROM node:${{NODE_VERSION}}-alpine AS builder
ARG INSTALL
ARG BUILD
ARG OUTPUT
# Without them the build would do nothing and copy nothing: stop before anything is copied or installed.
RUN test -n "$INSTALL" || {{ echo "missing --build-arg INSTALL" >&2; exit 1; }}; \\
    test -n "$BUILD" || {{ echo "missing --build-arg BUILD" >&2; exit 1; }}; \\
    test -n "$OUTPUT" || {{ echo "missing --build-arg OUTPUT" >&2; exit 1; }}
WORKDIR /app
COPY . .
# The commands are the spec's, one line of shell each.
RUN --mount=type=cache,target=/root/.npm eval "$INSTALL"
RUN eval "$BUILD" && test -d "$OUTPUT"

# Migration stage: the builder's schema and every dependency, for the release's migration Job, which gives the
# command (delivery.migrate or delivery.rollback); not root, like the app. Before the production stage, so that a
# build without --target (compose, CI's app image) still ends there.
FROM builder AS {MIGRATE_STAGE}
ENV NODE_ENV=production \\
    npm_config_cache=/tmp/.npm \\
    npm_config_update_notifier=false
USER {APP_USER_ID}:{APP_USER_ID}

# Prune stage: the builder less its development dependencies, which the production stage copies from.
FROM builder AS pruned
ARG PRUNE
RUN test -n "$PRUNE" || {{ echo "missing --build-arg PRUNE" >&2; exit 1; }}
RUN eval "$PRUNE"

# Production stage: the build's output and production dependencies only, under tini, not root.
FROM node:${{NODE_VERSION}}-alpine AS production
ARG PORT
ARG HEALTH_PATH
ARG OUTPUT
ARG START
# PORT and HEALTH_PATH may be empty: a worker that listens to nothing has neither.
RUN test -n "$START" || {{ echo "missing --build-arg START" >&2; exit 1; }}
# In the image's environment, so the health check and the start command below read them when they run.
ENV NODE_ENV=production \\
    PORT=${{PORT}} \\
    HEALTH_PATH=${{HEALTH_PATH}} \\
    START=${{START}}
# The uid/gid Kubernetes runs the pod as (runAsUser {APP_USER_ID}), by number so the runtime can check it is not
# root; files stay root-owned, so the process cannot change its own code.
RUN apk add --no-cache {TINI} && \\
    addgroup -S -g {APP_USER_ID} app && adduser -S -D -H -u {APP_USER_ID} -G app app
WORKDIR /app
COPY --from=pruned /app/package.json ./
COPY --from=pruned /app/node_modules ./node_modules
COPY --from=pruned /app/${{OUTPUT}} ./dist
USER {APP_USER_ID}:{APP_USER_ID}
# Docker substitutes no variables in HEALTHCHECK: a shell does, when the check runs, from the environment above.
# Any failure is 1 (unhealthy): Docker reserves 2.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \\
  CMD {json.dumps(["sh", "-c", HEALTH_CHECK])}
# tini is PID 1 and forwards signals; the shell reads START and replaces itself with the server (exec), so the
# server is tini's child and gets SIGTERM at once.
ENTRYPOINT ["/sbin/tini", "--"]
CMD {json.dumps(["/bin/sh", "-c", START_COMMAND])}
"""
