# syntax=docker/dockerfile:1
# wafleet's image: one image for every role; SERVICES picks the roles of a container (sessions,
# api, webhooks, health, backup). Debian's Chromium for the wwebjs engine, tini as PID 1 so the
# Chromium processes a crashed browser leaves behind are reaped, and a non-root user.
ARG NODE_VERSION=22

# --- build: compile the TypeScript, then keep only the production dependencies -----------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
# puppeteer (whatsapp-web.js's dependency) must never download a browser: the system one is used
ENV PUPPETEER_SKIP_DOWNLOAD=true
COPY package.json package-lock.json .puppeteerrc.cjs ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# --- runtime ------------------------------------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# chromium: the wwebjs engine's browser (CHROME_PATH); tini: PID 1 (reaps orphans, forwards
# SIGTERM to wafleet only, so the node drains before its browsers are stopped); fonts for pages
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium tini ca-certificates fonts-liberation \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 wafleet \
 && useradd --system --uid 10001 --gid wafleet --home-dir /var/lib/wafleet --shell /usr/sbin/nologin wafleet \
 && mkdir -p /var/lib/wafleet/sessions \
 && chown -R wafleet:wafleet /var/lib/wafleet
ENV NODE_ENV=production \
    PUPPETEER_SKIP_DOWNLOAD=true \
    CHROME_PATH=/usr/bin/chromium \
    DATA_DIR=/var/lib/wafleet \
    SESSIONS_DIR=/var/lib/wafleet/sessions \
    API_PORT=3000 \
    OPS_PORT=9090
WORKDIR /app
COPY --from=build /src/package.json /src/.puppeteerrc.cjs ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY docker/entrypoint.sh /usr/local/bin/wafleet
USER wafleet
# API_PORT (REST, api role) and OPS_PORT (/metrics, /healthz, /readyz, /health) on every node
EXPOSE 3000 9090
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/wafleet"]
CMD ["start"]
