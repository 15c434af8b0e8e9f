# Verbatim: serves the seed documents on port 8000. Same install as the README (`make install`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 \
    VERBATIM_DATA_DIR=/data
RUN apt-get update && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml Makefile README.md ./
COPY qa ./qa
COPY embeddings ./embeddings
COPY api ./api
COPY seeds ./seeds
# torch==2.13.0 is pinned; on a machine without a local CPU wheel use PyTorch's CPU index, e.g.
# --build-arg PIP_EXTRA_INDEX_URL=<CPU wheel index>, to avoid the CUDA build.
ARG PIP_EXTRA_INDEX_URL=
RUN make install VENV=/opt/venv
ENV PATH=/opt/venv/bin:$PATH
VOLUME /data
EXPOSE 8000
# Index the seeds at build time so the first start is quick.
RUN qa ask "Who carried the torch?" --data-dir /data > /dev/null
CMD ["qa", "serve", "--host", "0.0.0.0", "--port", "8000", "--data-dir", "/data"]
