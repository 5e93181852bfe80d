# syntax=docker/dockerfile:1
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY config ./config
COPY jobs ./jobs
COPY examples ./examples
RUN mkdir -p /app/.data /app/inbox && chown -R node:node /app/.data /app/inbox
USER node
ENTRYPOINT ["node", "bin/member-sync.js"]
CMD ["worker"]
