# syntax=docker/dockerfile:1
# The operator image: Node 22 (the dev machines run Node 20; both are supported), non-root, read-only-root friendly,
# with the PostgreSQL 15 client tools (pg_dump, pg_restore, psql) that the backup/restore agent runs inside Jobs.
# The runtime stage is Debian slim with only the node binary copied in: no npm, npx, corepack or yarn, and
# node_modules holds only the packages dist/ imports (and what they depend on).
# Built locally without a registry by hack/images/build.sh, which gives these two FROM names local images.

FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY hack/images/prune-deps.ts ./hack/images/
RUN npm run build && npm prune --omit=dev --ignore-scripts \
 && node hack/images/prune-deps.ts dist node_modules

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# NODE_OPTIONS: see src/node-options.ts (a smaller young generation: -40 MiB peak RSS at 10,000 objects).
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=8 \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
# 65532 is the conventional "nonroot" uid; the chart sets runAsNonRoot and readOnlyRootFilesystem.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/node", "/app/dist/main.js"]
