# syntax=docker/dockerfile:1
# callease-dialer: one image for `serve`, `worker`, `poller` and `simulate`.

# ---- build: dev dependencies + tsc ------------------------------------------
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# tsc does not copy the status page's static files; put them next to the built server.
RUN npm run build && cp -r src/server/public dist/src/server/public

# ---- runtime: production dependencies only, non-root, tini as PID 1 ----------
FROM node:20-slim AS runtime
# apt's package caches (/var/cache/apt/*.bin, ~80 MB where the base image keeps them) go with the lists.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional: no typescript (23 MB; an optional peer of valibot, kept as "devOptional")
# and no msgpackr-extract (BullMQ's msgpackr then uses its plain JS path).
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The example campaign, for `load campaigns/example.yaml` in the demo.
COPY campaigns/example.yaml campaigns/example.csv ./campaigns/
# Results files are personal data: owned by the runtime user only.
RUN mkdir -p /app/results && chown node:node /app/results && chmod 700 /app/results
USER node
EXPOSE 8080
# /healthz answers as long as the process is up; workers and pollers (no HTTP) disable it in compose.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# tini forwards SIGTERM (first: drain, second: force) and reaps zombies.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/src/cli/main.js"]
CMD ["serve"]
