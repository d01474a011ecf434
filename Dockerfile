FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY cms cms
COPY jobs jobs
COPY search search
COPY plugins plugins
COPY migrations migrations
COPY graphql graphql
RUN pip install --no-cache-dir . && useradd --create-home cms
USER cms
ENV CMS_DATA_DIR=/home/cms/var
EXPOSE 8000
CMD ["cms", "serve", "--host", "0.0.0.0", "--port", "8000"]
