# introbot as a container: `docker build -t introbot .`, then see compose.yaml.
# CI runs the same steps without Docker (.ci/run: the wheel installed outside the checkout).

# Build the wheel (templates, migrations, the manifest template ship inside it).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
COPY templates ./templates
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# Run it: only the wheel and its dependencies, as a user that owns nothing but its data.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /dist /dist
RUN pip install --no-cache-dir /dist/*.whl && rm -rf /dist \
    && useradd --system --create-home --home-dir /var/lib/introbot --uid 10001 introbot
USER introbot
WORKDIR /var/lib/introbot
EXPOSE 3000
# Liveness; a load balancer should route by GET /readyz, which also checks the database and Slack.
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=2)"]
# SIGTERM drains work in flight and releases leased messages before exiting.
STOPSIGNAL SIGTERM
CMD ["introbot", "serve", "--host", "0.0.0.0", "--port", "3000"]
