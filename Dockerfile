# First cut; not built in CI (no Docker engine on our machines).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY config ./config
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install --no-cache-dir .
COPY kb ./kb
COPY eval/calibration.json ./eval/calibration.json
# The image serves the sample kb (kb/): its product's name for the demo page.
ENV HF_HUB_OFFLINE=1 DEFLECT_HOST=0.0.0.0 DEFLECT_PRODUCT_NAME=Quiverly
EXPOSE 8080
CMD ["sh", "-c", "deflect ingest && deflect serve"]
