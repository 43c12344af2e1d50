# syntax=docker/dockerfile:1
# The graduation-clearance service: `docker build -t graduation-clearance .`
#
# Two stages: the first installs the package and its dependencies into a virtual
# environment; the second copies only that environment onto a fresh slim Python
# image and runs it as an unprivileged user. Every dependency ships manylinux
# wheels, so neither stage needs a compiler, and the final image has no pip,
# no build tools and no source tree. The entry point is the `clearance` command:
#   docker run IMAGE run                  # the service (the default)
#   docker run IMAGE serve --host 0.0.0.0 # the verification service
#   docker run IMAGE db upgrade | status | applications show ID | dlq list ...

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/clearance
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas/ schemas/
COPY clearance/ clearance/
COPY consumers/ consumers/
COPY producers/ producers/
# Compile the bytecode here: the runtime file system may be read-only.
RUN /opt/clearance/bin/pip install --no-cache-dir . \
    && /opt/clearance/bin/pip uninstall --yes pip \
    && /opt/clearance/bin/python -m compileall -q /opt/clearance/lib

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="graduation-clearance" \
      org.opencontainers.image.description="Library clearance (bebas pustaka) for graduation, over Kafka" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed numeric uid/gid, so that Kubernetes' runAsNonRoot can check it and volumes can be chowned to it.
RUN groupadd --system --gid 10001 clearance \
    && useradd --system --uid 10001 --gid clearance --home-dir /var/lib/clearance --no-create-home \
       --shell /usr/sbin/nologin clearance \
    && install -d -o clearance -g clearance -m 0750 /var/lib/clearance \
    && install -d -o clearance -g clearance -m 0700 /var/lib/clearance/keys
COPY --from=build /opt/clearance /opt/clearance
ENV PATH=/opt/clearance/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CLEARANCE_KEY_DIR=/var/lib/clearance/keys \
    CLEARANCE_DATABASE_URL=sqlite:////var/lib/clearance/clearance.db \
    CLEARANCE_METRICS_PORT=9464
WORKDIR /var/lib/clearance
USER 10001:10001
# 9464: Prometheus /metrics, /livez, /readyz of `clearance run`; 8000: `clearance serve`.
EXPOSE 9464 8000
VOLUME ["/var/lib/clearance/keys"]
ENTRYPOINT ["clearance"]
CMD ["run"]
