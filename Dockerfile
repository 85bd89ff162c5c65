# complaint-ledger: one image for the API and every worker (the command picks which).
#   docker build -t complaint-ledger .                      # add --build-arg EXTRAS=otel for tracing
#   docker run --rm complaint-ledger --help
# Configuration is the environment (COMPLAINTS_*, OTEL_*): see docs/deployment.md.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# uv from PyPI, pinned like the lock it reads.
RUN pip install --no-cache-dir "uv>=0.5,<1"
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv
WORKDIR /src
ARG EXTRAS=""
# Dependencies first (a layer that changes only with the lock), then the project itself,
# installed as a wheel (not editable): the runtime stage needs the environment alone.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project ${EXTRAS:+--extra $EXTRAS}
COPY aggregates aggregates
COPY commands commands
COPY projections projections
COPY queries queries
COPY stream stream
COPY infra infra
COPY api api
RUN uv sync --frozen --no-dev --no-editable ${EXTRAS:+--extra $EXTRAS}

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 complaints \
 && useradd --system --uid 10001 --gid complaints --home-dir /var/lib/complaints \
      --create-home --shell /usr/sbin/nologin complaints
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 \
    COMPLAINTS_HOST=0.0.0.0 COMPLAINTS_LOG_FORMAT=json \
    COMPLAINTS_ADMIN_TOKEN_FILE=/var/lib/complaints/admin-token
# Relative paths (a SQLite store, the default key file under var/) resolve here, the one
# directory the service may write.
WORKDIR /var/lib/complaints
USER complaints
EXPOSE 8000
# `docker stop` sends SIGTERM: serve finishes its requests in flight
# (COMPLAINTS_SHUTDOWN_GRACE_SECONDS), workers commit their batch and release their locks.
STOPSIGNAL SIGTERM
ENTRYPOINT ["complaints"]
CMD ["serve"]
