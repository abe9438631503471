# The user-code image: the project installed with its `celery` extra, the production dagster.yaml
# in $DAGSTER_HOME and the gRPC workspace. By default it runs the code server; the webserver, the
# daemon and Celery workers run the same image with another command (docker-compose.yml).
#
#   docker build -t autoindex_pipeline .
#   docker run --env-file .env -p 4000:4000 autoindex_pipeline
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    DAGSTER_COMPUTE_LOG_DIR=/opt/dagster/compute_logs \
    AUTOINDEX_DATA_DIR=/opt/dagster/data \
    AUTOINDEX_PROGRESS=0

WORKDIR /opt/dagster/app

# Dependencies and the package (its data files: the packaged autoindex.yaml, universe, migrations).
COPY pyproject.toml README.md ./
COPY autoindex_pipeline ./autoindex_pipeline
ARG EXTRAS=celery
RUN pip install ".[${EXTRAS}]"

# The production instance (every connection detail from the environment) and the workspace the
# webserver and the daemon load (the code server's host and port from the environment).
COPY dagster.yaml ${DAGSTER_HOME}/dagster.yaml
COPY deploy ./deploy

RUN useradd --create-home --uid 1000 dagster \
    && mkdir -p ${DAGSTER_HOME}/storage ${DAGSTER_COMPUTE_LOG_DIR} ${AUTOINDEX_DATA_DIR} \
    && chown -R dagster:dagster /opt/dagster
USER dagster

EXPOSE 4000 3000
CMD ["dagster", "code-server", "start", "-m", "autoindex_pipeline.definitions", "-h", "0.0.0.0", "-p", "4000", "--location-name", "autoindex_pipeline"]
