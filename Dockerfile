# Knock's image: Python as requirements.lock is made for (scripts/lock: 3.11), the patch release
# pinned; bump the tag on purpose, never by a moving tag.
FROM python:3.11.17-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# The runtime dependencies exactly as locked, each file checked against its hash (`make lock`).
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md LICENSE mknock.py ./
COPY knock ./knock
# Knock itself, then its own account (a fixed, numeric id, so that Kubernetes' runAsNonRoot can
# tell) and its working directory: the database, tokens.json and the list files live in /data.
RUN pip install --no-cache-dir --no-deps . \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home knock \
    && mkdir /data && chown knock:knock /data && chmod 0700 /data
USER 10001:10001
WORKDIR /data
VOLUME /data
EXPOSE 8000
# Ready while the database answers (GET /readyz is 200), with what a slim image has: Python.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
# In a container Knock listens on every address; TRUSTED_PROXIES names the reverse proxy.
# `docker compose run --rm knock knock login` (or any other knock command) replaces this.
CMD ["knock", "serve", "--host", "0.0.0.0", "--port", "8000"]
