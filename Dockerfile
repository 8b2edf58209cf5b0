# syntax=docker/dockerfile:1

# ---- build: compile TypeScript with the dev dependencies --------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The workspaces' manifests too: the lockfile names them.
COPY packages/node/package.json packages/node/
COPY packages/browser/package.json packages/browser/
RUN npm ci --no-audit --no-fund
# .dockerignore keeps node_modules, dist, tests and secrets out of the context.
COPY . .
# The gateway and the packages; the gateway serves packages/browser/dist/verigate.js.
RUN npm run build

# ---- runtime: production dependencies and the compiled output only ----------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# The gateway's production dependencies only: the SDK packages are not its dependencies.
RUN npm ci --omit=dev --workspaces=false --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/packages/browser/dist/verigate.js ./packages/browser/dist/verigate.js
COPY openapi.yaml ./

# The admin listener (8090) binds to 127.0.0.1 by default, i.e. it is
# unreachable from outside the container. To use it, opt in explicitly and
# publish it on the host's loopback only:
#   docker run -e ADMIN_HOST=0.0.0.0 -p 127.0.0.1:8090:8090 ...
# (docker-compose.yml does exactly that.)
EXPOSE 8080 8081 8090

# Files stay owned by root (read-only to the app); the process runs unprivileged.
USER node

# Slim images have no curl: probe with Node's own fetch. Uses the live listener,
# or the sandbox one when LIVE_PORT=off.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "const e=process.env,p=(e.LIVE_PORT||'8080')!=='off'?(e.LIVE_PORT||'8080'):(e.SANDBOX_PORT||'8081');fetch('http://127.0.0.1:'+p+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# Node as PID 1 gets SIGTERM directly and drains (see SHUTDOWN_GRACE_MS).
CMD ["node", "dist/main.js"]
