"""The seed's multi-stage NestJS Dockerfile, once per platform: pinned base, production dependencies only, non-root.

A third stage, `migrate`, is each service's migration image: the builder's dependencies (the migration tool is
usually a dev dependency) with the service's folder and the repository's Prisma schema. CI pushes it beside the
service's image, and the release's migration Job runs `delivery.migrate` in it (targets/kubernetes/migrations.py).

Services differ only in their name, port and health path, so one file takes them as build arguments
(`ServicePlan.build_args`, which CI and compose both pass) instead of one nearly identical file per service.
"""

from __future__ import annotations

import json

from bizinfra.naming import MIGRATE_STAGE
from bizinfra.plan import APP_USER_ID, ServicePlan

# Node 24 ("Krypton") is the active LTS line; 24.21.0 was its newest release (2026-09-10) in the npm
# registry's `node` package when this was written. The official image publishes `<version>-alpine` tags.
NODE_IMAGE = "node:24.21.0-alpine"
# health_command's check, with the port and path read from the container's environment when it runs.
HEALTH_CHECK = 'wget --quiet --spider "http://127.0.0.1:${PORT}${HEALTH_PATH}" || exit 1'


def health_command(service: ServicePlan) -> list[str]:
    """Alpine's busybox has wget, not curl; 127.0.0.1, since `localhost` may resolve to ::1 first."""
    return ["wget", "--quiet", "--spider", f"http://127.0.0.1:{service.port}{service.health_path}"]


def dockerfile() -> str:
    return f"""# One Dockerfile for every service of the platform; CI and compose pass each service's values from the spec:
#   --build-arg SERVICE=<the Nx project, its folder under apps/>
#   --build-arg PORT=<the port it listens on>
#   --build-arg HEALTH_PATH=<the path that answers 200 when it is healthy>
# Build context: the application's repository root (package.json, nx.json, apps/<SERVICE>, libs/).
# Build stage: every dependency, then the Nx build of the service.
FROM {NODE_IMAGE} AS builder
ARG SERVICE
ARG PORT
ARG HEALTH_PATH
# Without SERVICE, `COPY apps/${{SERVICE}}` would copy every app: stop before anything is copied or installed.
RUN test -n "$SERVICE" || {{ echo "missing --build-arg SERVICE=<the service's folder under apps/>" >&2; exit 1; }}; \\
    test -n "$PORT" || {{ echo "missing --build-arg PORT=<the service's port>" >&2; exit 1; }}; \\
    test -n "$HEALTH_PATH" || {{ echo "missing --build-arg HEALTH_PATH=<the service's health path>" >&2; exit 1; }}
WORKDIR /app
COPY package.json package-lock.json nx.json ./
COPY tsconfig*.json ./
RUN npm ci
COPY apps/${{SERVICE}} ./apps/${{SERVICE}}
COPY libs ./libs
RUN npx nx build "$SERVICE" --prod

# Migration stage: the schema and the migration tool, for the release's migration Job (not root, like the app).
# Before the production stage, so that a build without --target (compose, CI's app image) still ends there.
# The Job gives the command (delivery.migrate or delivery.rollback). BuildKit copies nothing, without failing, when
# the repository has no prisma/ folder (a schema under apps/<SERVICE>/prisma came with the builder stage).
FROM builder AS {MIGRATE_STAGE}
COPY prism[a] ./prisma/
ENV NODE_ENV=production \\
    npm_config_cache=/tmp/.npm \\
    npm_config_update_notifier=false
USER {APP_USER_ID}:{APP_USER_ID}

# Production stage: production dependencies and the built service only, not root.
FROM {NODE_IMAGE} AS production
ARG SERVICE
ARG PORT
ARG HEALTH_PATH
# In the image's environment, so the health check below reads them when it runs.
ENV NODE_ENV=production \\
    PORT=${{PORT}} \\
    HEALTH_PATH=${{HEALTH_PATH}}
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=builder /app/dist/apps/${{SERVICE}} ./dist
# The uid/gid Kubernetes runs the pod as (runAsUser {APP_USER_ID}), by number so the runtime can check it is not
# root; files stay root-owned, so the process cannot change its own code.
RUN addgroup -S -g {APP_USER_ID} app && adduser -S -D -H -u {APP_USER_ID} -G app app
USER {APP_USER_ID}:{APP_USER_ID}
EXPOSE ${{PORT}}
# Docker substitutes no variables in HEALTHCHECK: a shell does, when the check runs, from the environment above.
# Any failure is 1 (unhealthy): Docker reserves 2.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \\
  CMD {json.dumps(["sh", "-c", HEALTH_CHECK])}
CMD ["node", "dist/main.js"]
"""
