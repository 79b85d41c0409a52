# The gateway image: the project and its pinned dependencies on Python 3.11.
FROM python:3.11.7-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends curl make && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/ehe
COPY pyproject.toml requirements.lock README.md ./
COPY gateway ./gateway
COPY connectors ./connectors
COPY mappings ./mappings
COPY expectations ./expectations
COPY dags ./dags
COPY deploy ./deploy
RUN pip install --no-cache-dir "uv==0.13.8" \
    && uv pip install --system --no-cache -c requirements.lock -e .
USER nobody
