"""Person resolution: every accepted row to a person. See `spec` for the model."""

from matchers.resolution.resolve import DEFAULT_MODEL_PATH, model_path, resolve_quarter
from matchers.resolution.training import train_model

__all__ = ["DEFAULT_MODEL_PATH", "model_path", "resolve_quarter", "train_model"]
