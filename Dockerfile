# Multi-stage, slim, non-root. Build: docker build -t scimhub .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/scimhub \
 && /opt/scimhub/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/scimhub/bin/pip install --no-cache-dir '.[metrics,redis,postgres]'

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /data --create-home scimhub
COPY --from=build /opt/scimhub /opt/scimhub
ENV PATH=/opt/scimhub/bin:$PATH \
    SCIMHUB_HOST=0.0.0.0 \
    SCIMHUB_PORT=8000 \
    SCIMHUB_DATABASE_URL=sqlite:////data/scimhub.db
USER scimhub
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
CMD ["scimhub", "serve"]
