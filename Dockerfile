FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md LICENSE mknock.py ./
COPY knock ./knock
RUN pip install --no-cache-dir . && useradd --create-home knock && mkdir /data && chown knock /data
USER knock
WORKDIR /data
EXPOSE 8000
CMD ["uvicorn", "mknock:app", "--host", "0.0.0.0", "--port", "8000", "--app-dir", "/app"]
