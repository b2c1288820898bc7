# Crenel's container images, two targets (see README "Container images"):
#   docker build --target probe -t crenel-probe .         # the probe alone (pip install .)
#   docker build --target collector -t crenel-collector . # the collector ('.[collector,postgres]')
# The lab builds network namespaces on the host and has no image.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Shared by every stage: the interpreter and an unprivileged user (uid 10001, never root).
FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 crenel \
    && useradd --system --uid 10001 --gid crenel --create-home --home-dir /home/crenel crenel \
    && install -d -o crenel -g crenel -m 0750 /data

# The source tree, copied once for both builds.
FROM base AS source
WORKDIR /src
COPY pyproject.toml README.md ./
COPY probe/ probe/
COPY collector/ collector/
COPY lab/ lab/

# Each program is installed into its own virtual environment, copied whole into its image.
FROM source AS build-probe
RUN python3 -m venv /opt/crenel && /opt/crenel/bin/pip install --no-compile .

FROM source AS build-collector
RUN python3 -m venv /opt/crenel && /opt/crenel/bin/pip install --no-compile '.[collector,postgres]'

# The probe. Measurements and settings live in /data. Packet evidence (--packet-evidence,
# --locate-censor) needs CAP_NET_RAW and CAP_NET_ADMIN, which Docker grants to root only:
#   docker run --rm --user root --cap-add NET_RAW --cap-add NET_ADMIN crenel-probe measure ...
FROM base AS probe
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpcap0.8 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build-probe /opt/crenel /opt/crenel
ENV PATH=/opt/crenel/bin:$PATH \
    CRENEL_DATA_DIR=/data \
    XDG_CONFIG_HOME=/data/config
USER crenel
WORKDIR /home/crenel
VOLUME ["/data"]
ENTRYPOINT ["crenel-probe"]
CMD ["--help"]

# The collector: API, control and dashboard on 0.0.0.0:8080, DuckDB files in /data, or a
# PostgreSQL database (CRENEL_COLLECTOR_STORE=postgresql://..., see compose.yaml; psycopg's
# binary build brings its own libpq).
FROM base AS collector
COPY --from=build-collector /opt/crenel /opt/crenel
ENV PATH=/opt/crenel/bin:$PATH \
    CRENEL_COLLECTOR_DATA_DIR=/data \
    CRENEL_COLLECTOR_LISTEN=0.0.0.0:8080
USER crenel
WORKDIR /home/crenel
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/api/v1/health', timeout=4)"]
ENTRYPOINT ["crenel-collector"]
CMD ["serve"]
