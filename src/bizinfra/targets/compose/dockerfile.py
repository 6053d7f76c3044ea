"""The seed's multi-stage NestJS Dockerfile, per service: pinned base, production dependencies only, non-root."""

from __future__ import annotations

import json

from bizinfra.plan import APP_USER_ID, ServicePlan

# Node 24 ("Krypton") is the active LTS line; 24.21.0 was its newest release (2026-09-10) in the npm
# registry's `node` package when this was written. The official image publishes `<version>-alpine` tags.
NODE_IMAGE = "node:24.21.0-alpine"


def dockerfile_path(service: ServicePlan) -> str:
    """Where the generated Dockerfile goes, under the platform's output folder.

    CI and compose build `service.dockerfile` (a path in the application's repository): link or copy
    this file there, so that the port and health check it carries stay the spec's.
    """
    return f"docker/{service.name}.Dockerfile"


def health_command(service: ServicePlan) -> list[str]:
    """Alpine's busybox has wget, not curl; 127.0.0.1, since `localhost` may resolve to ::1 first."""
    return ["wget", "--quiet", "--spider", f"http://127.0.0.1:{service.port}{service.health_path}"]


def dockerfile(service: ServicePlan) -> str:
    name = service.name
    health = json.dumps(health_command(service))
    return f"""# Build context: the application's repository root (package.json, nx.json, apps/{name}, libs/).
# Build stage: every dependency, then the Nx build of {name}.
FROM {NODE_IMAGE} AS builder
WORKDIR /app
COPY package.json package-lock.json nx.json ./
COPY tsconfig*.json ./
RUN npm ci
COPY apps/{name} ./apps/{name}
COPY libs ./libs
RUN npx nx build {name} --prod

# Production stage: production dependencies and the built service only, not root.
FROM {NODE_IMAGE} AS production
ENV NODE_ENV=production \\
    PORT={service.port}
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=builder /app/dist/apps/{name} ./dist
# The uid/gid Kubernetes runs the pod as (runAsUser {APP_USER_ID}), by number so the runtime can check it is not
# root; files stay root-owned, so the process cannot change its own code.
RUN addgroup -S -g {APP_USER_ID} app && adduser -S -D -H -u {APP_USER_ID} -G app app
USER {APP_USER_ID}:{APP_USER_ID}
EXPOSE {service.port}
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \\
  CMD {health}
CMD ["node", "dist/main.js"]
"""
