# A Concord relay. Build:  docker build -t concord-relay .
# Run (a secret is required on a non-loopback address; see docs/deploy.md):
#   docker run -d --name concord -p 8787:8787 -v concord-data:/data \
#     -e CONCORD_SECRET="$(openssl rand -hex 32)" concord-relay --origin https://app.example
# Extra arguments are passed to `concord relay`; configuration also comes from PORT, HOST, DATA_DIR,
# CONCORD_SECRET. The relay runs as the unprivileged `node` user and keeps its data in the /data volume.

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Sources are copied after the install, so skip the `prepare` build here and run it below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY lib ./lib
COPY adapters ./adapters
COPY test/sim-membership ./test/sim-membership
COPY demo ./demo
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8787 \
    DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json LICENSE ./
RUN npm ci --omit=dev --omit=peer --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && mkdir -p /data \
 && chown node:node /data
COPY --from=build /src/dist/lib ./dist/lib
COPY --from=build /src/dist/adapters ./dist/adapters
USER node
VOLUME ["/data"]
EXPOSE 8787
# /readyz answers 200 once the storage is open and the server listens.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8787) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The relay is PID 1 and handles SIGTERM itself: it stops accepting, closes sockets with 1001, flushes
# and closes its storage, then exits 0. Give it time before SIGKILL: docker stop -t 30.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/adapters/cli.js", "relay"]
