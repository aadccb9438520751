# lambdaflow in a container: the whole pipeline (`all`) by default, any other command when given one; the data
# folder is the /data volume. README "Scaling out" has the commands. No container engine runs on the machine this
# project is developed on, so this image has not been built there: test/docs/container.test.ts checks this file
# against the README and the CLI's --help in `npm test`.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# The lockfile alone first, so the dependency layer is rebuilt only when dependencies change.
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json main.ts ./
COPY src ./src
COPY workers ./workers
COPY bench ./bench
# The build needs the dev dependencies (TypeScript, and the benchmarks' types); the image that runs does not.
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# A named volume starts with the ownership of the image's folder, so the unprivileged user can write the data folder.
RUN mkdir /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 8080
# Inside a container the HTTP service must listen on all interfaces: the CLI's default, 127.0.0.1, is the container's
# own loopback, which a published port (-p 8080:8080) does not reach.
CMD ["node", "dist/main.js", "all", "--data", "/data", "--host", "0.0.0.0"]
