FROM python:3.11-slim
WORKDIR /app
# The runtime dependencies exactly as locked, each file checked against its hash (`make lock`).
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md LICENSE mknock.py ./
COPY knock ./knock
RUN pip install --no-cache-dir --no-deps . && useradd --create-home knock && mkdir /data && chown knock /data
USER knock
WORKDIR /data
EXPOSE 8000
CMD ["uvicorn", "mknock:app", "--host", "0.0.0.0", "--port", "8000", "--app-dir", "/app"]
