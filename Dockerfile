# The msr-engage daemon: installs exactly the hashed lock (runtime dependencies and the build backend,
# every file checked against its sha256), then this package without resolving anything, and runs
# `msr-engage run` as an unprivileged user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MSR_ENGAGE_HOME=/state \
    MSR_ENGAGE_CONFIG=/config/config.toml

WORKDIR /app
COPY pyproject.toml README.md requirements.hashed.lock ./
COPY connector ./connector
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements.hashed.lock \
 && pip install --no-cache-dir --no-deps --no-build-isolation . \
 && pip check \
 && useradd --system --uid 10001 --home-dir /state --shell /usr/sbin/nologin msr \
 && mkdir -p /state /config && chown msr /state

USER msr
# The ledger (SQLite) and the lock file live here; mount a volume so they outlive the container.
VOLUME ["/state"]
# /livez, /readyz, /healthz and /metrics ([sync] health_port; health_host = "0.0.0.0" to scrape from
# outside). The HEALTHCHECK asks /livez: whether the process works, not whether the org answers (an
# hour's API-limit breaker or a held-back rule change must not mark the container unhealthy).
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9464/livez', timeout=4).status != 200)"]

ENTRYPOINT ["msr-engage"]
CMD ["run"]
