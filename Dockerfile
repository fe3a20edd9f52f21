# GridPatrol all-in-one (broker + ingest + API). Data (spool, metadata, embedded store) in /data.
FROM node:20-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY . .
# the dashboard bundle and the server bundle (web/dist and dist/ are not committed): `npm run build`, as `npm start` does
RUN node_modules/.bin/tsx web/build.ts && node_modules/.bin/tsx scripts/build-server.ts
RUN mkdir -p /data && chown node:node /data
ENV NODE_ENV=production \
    GRIDPATROL_HOST=0.0.0.0 \
    GRIDPATROL_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 1883 8083 8080
USER node
HEALTHCHECK --interval=15s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.GRIDPATROL_HTTP_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--enable-source-maps", "dist/main.mjs"]
