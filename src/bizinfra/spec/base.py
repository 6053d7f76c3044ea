"""The base of every spec model."""

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """Immutable, and unknown keys are errors (with a 'did you mean' from the loader)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
