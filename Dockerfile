# reminder-gateway: one image for every process (api, worker, scheduler, migrate, catcher, ...).
# The subcommand is the container command: `docker run IMAGE worker`; the default is `api`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8080 \
    GATEWAY_DATA_DIR=/data

# System libraries WeasyPrint needs to render letters (Pango, HarfBuzz subsetting) and fonts for
# Latin and CJK (zh-CN) letters.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libpango-1.0-0 \
        libpangoft2-1.0-0 \
        libharfbuzz-subset0 \
        fonts-dejavu-core \
        fonts-wqy-microhei \
 && rm -rf /var/lib/apt/lists/*

# Install the distribution itself (not editable); the source tree is dropped afterwards so the
# installed package in site-packages is what runs.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway/ gateway/
COPY channels/ channels/
COPY scheduler/ scheduler/
COPY templates/ templates/
RUN pip install --no-cache-dir . \
 && rm -rf /src

# Unprivileged user; /data (letters, caught mail) belongs to it so a fresh named volume does too.
RUN groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid gateway --home-dir /app --create-home --shell /usr/sbin/nologin gateway \
 && mkdir -p /data \
 && chown gateway:gateway /data
USER gateway
WORKDIR /app
VOLUME ["/data"]

EXPOSE 8080

# Only meaningful for the `api` command; docker-compose.yml disables it for the other processes.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["reminder-gateway"]
CMD ["api"]
