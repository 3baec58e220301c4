"""The request and response bodies of `POST /v1/predict`, shared by the API and the worker."""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from .model import Model, Prediction

# Strict: JSON numbers only, no numeric strings and no booleans; finite only, so
# 1e999 (which parses as infinity), NaN and Infinity are rejected here, on every path.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Row = Annotated[list[Number], Field(min_length=1)]

EXAMPLE_ROW: list[JsonValue] = [5.1, 3.5, 1.4, 0.2]


class PredictRequest(BaseModel):
    """A batch of rows, each the features of one instance."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"instances": [EXAMPLE_ROW]}]},
    )

    instances: list[Row] = Field(min_length=1)


class PredictionOut(BaseModel):
    label: str
    class_id: int
    probabilities: dict[str, float]


class PredictResponse(BaseModel):
    model_version: str
    predictions: list[PredictionOut]

    @classmethod
    def of(cls, model: Model, predictions: list[Prediction]) -> PredictResponse:
        return cls(
            model_version=model.version,
            predictions=[
                PredictionOut(label=p.label, class_id=p.class_id, probabilities=p.probabilities)
                for p in predictions
            ],
        )


def batch_error(request: PredictRequest, *, max_batch: int, n_features: int) -> str | None:
    """What is wrong with a well-formed batch for this model, or None."""
    if len(request.instances) > max_batch:
        return (
            f"instances holds {len(request.instances)} rows, more than the maximum of {max_batch}"
        )
    for index, row in enumerate(request.instances):
        if len(row) != n_features:
            return f"instances[{index}] has {len(row)} features, the model takes {n_features}"
    return None


def response_json(model: Model, predictions: list[Prediction]) -> bytes:
    """`PredictResponse.of(model, predictions)` as JSON, without building and validating
    the pydantic models: the predictions come from the model, already typed."""
    return json.dumps(
        {
            "model_version": model.version,
            "predictions": [
                {"label": p.label, "class_id": p.class_id, "probabilities": p.probabilities}
                for p in predictions
            ],
        },
        ensure_ascii=False,
        allow_nan=False,
        separators=(",", ":"),
    ).encode()
