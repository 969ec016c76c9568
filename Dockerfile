# dataplane-sentinel container image.
#
#   docker build -t REGISTRY/dataplane-sentinel:0.1.0 .
#
# Two stages: `build` compiles the TypeScript with the full Node 24 image (npm, compilers, all
# devDependencies); `runtime` is the slim Debian Node 24 image with the tools the agent runs on the
# host's ruleset (iptables legacy + nft, nftables, journalctl), production dependencies only and
# the compiled dist/. test/deploy/dockerfile.test.ts parses this file, checks every COPY source
# and replays the runtime stage's install to run the entry point with --help.
#
# Base images: Debian bookworm, whose iptables (1.8.9) is the one kube-proxy's own image ships,
# so the nft rules kube-proxy writes are read back by the same iptables-nft version. Pin by
# digest in production: --build-arg NODE_IMAGE=node:24-bookworm-slim@sha256:...
ARG NODE_BUILD_IMAGE=node:24-bookworm
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_BUILD_IMAGE} AS build
WORKDIR /src
# Dependencies first (cached while only sources change); --ignore-scripts: `prepare` builds,
# and the sources are not there yet.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY agent ./agent
COPY lib ./lib
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="dataplane-sentinel" \
      org.opencontainers.image.description="Per-node agent: do the node's kube-proxy rules match the Kubernetes API?" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
# iptables: iptables-legacy-save and iptables-nft-save (+ ip6tables-*), the rules the agent reads;
# nftables: `nft`, to tell the backends apart; systemd: journalctl, to follow the host's journal
# (k3s/rke2/kubelet units, kernel conntrack messages). Nothing else is installed.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables nftables systemd \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/* /var/log/apt /var/log/dpkg.log
WORKDIR /app
ENV NODE_ENV=production
# Production dependencies only; --ignore-scripts: `prepare` would need tsc, and dist/ comes
# from the build stage.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY --from=build /src/dist ./dist
# Non-root by default (the offline `check` command needs no privileges). The DaemonSet runs
# the agent as uid 0 with every capability dropped except NET_ADMIN and NET_RAW: Kubernetes
# cannot give those to a non-root process without file capabilities, which would in turn need
# allowPrivilegeEscalation (docs/operations.md, "Privileges").
USER node
ENTRYPOINT ["node", "/app/bin/dataplane-sentinel.js"]
CMD ["--help"]
