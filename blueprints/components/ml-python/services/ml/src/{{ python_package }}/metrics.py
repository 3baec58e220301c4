"""Prometheus metrics of the HTTP service, served at `/metrics`."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "ml_http_requests",
    "HTTP requests answered, by route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "ml_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
PREDICTION_ROWS = Counter("ml_prediction_rows", "Rows predicted.")
# With ML_WORKERS > 1 each worker sets it: /metrics shows the largest value, 1.
MODEL_INFO = Gauge(
    "ml_model_info",
    "The model being served (value 1).",
    ["model_version"],
    multiprocess_mode="max",
)
BATCH_SIZE = Histogram(
    "ml_batch_size",
    "Requests predicted together in one model call (POST /v1/predict).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
BATCH_ROWS = Histogram(
    "ml_batch_rows",
    "Rows predicted in one model call (POST /v1/predict).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
BATCH_QUEUE_WAIT = Histogram(
    "ml_batch_queue_wait_seconds",
    "Time a prediction request waited in the batch queue before its model call.",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
