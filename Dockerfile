# The admin app (React + Vite): typed against graphql/, built into plugins/admin/static for the image.
FROM node:20-slim AS admin
WORKDIR /src
COPY graphql graphql
COPY plugins/admin/web plugins/admin/web
RUN cd plugins/admin/web && npm ci --ignore-scripts --no-audit --no-fund && npm run build

FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY cms cms
COPY jobs jobs
COPY search search
COPY plugins plugins
COPY --from=admin /src/plugins/admin/static plugins/admin/static
COPY migrations migrations
COPY graphql graphql
# GraphiQL's browser files into the installed package (checked against pinned hashes), so it works offline; npm is
# only needed for that step. Run from / so the installed package, not ./cms, is the one written to.
RUN pip install --no-cache-dir . \
 && apt-get update && apt-get install -y --no-install-recommends npm \
 && cd / && python -m cms.http.graphiql_install \
 && apt-get purge -y --auto-remove npm && rm -rf /var/lib/apt/lists/* /root/.npm \
 && groupadd --gid 10001 cms && useradd --create-home --uid 10001 --gid 10001 cms
# Numeric, so Kubernetes can check runAsNonRoot without a runAsUser (deploy/k8s runs it read-only as 10001).
USER 10001
ENV CMS_DATA_DIR=/home/cms/var
EXPOSE 8000
CMD ["cms", "serve", "--host", "0.0.0.0", "--port", "8000"]
