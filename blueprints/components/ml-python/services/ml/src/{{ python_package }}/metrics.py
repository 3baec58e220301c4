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
MODEL_INFO = Gauge("ml_model_info", "The model being served (value 1).", ["model_version"])
