# syntax=docker/dockerfile:1
# The Pledgeflow image: one image, two processes. The default command is the API; the worker runs the same
# image with `node dist/src/main/worker.js` (see docker-compose.yml).

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/bootstrap.js ./scripts/
# npm ci, or `npm install --no-save` of the same locked versions when the lockfile lacks other platforms'
# optional binaries (see scripts/bootstrap.js).
RUN node scripts/bootstrap.js
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
# The browser app (served by the API at /) is built with Vite here, so the runtime needs none of its tools.
COPY web ./web
COPY scripts/webSize.js ./scripts/
# Compile, then drop the compilers and test tools so the runtime stage copies production packages only.
RUN npm run web:build && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/web/dist ./web/dist
# The official image's unprivileged user; nothing in /app needs to be writable.
USER node
EXPOSE 3000
CMD ["node", "--enable-source-maps", "dist/src/main/api.js"]
