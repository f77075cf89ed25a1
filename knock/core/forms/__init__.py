"""Parsing form-platform webhook deliveries into submissions, and checking their signatures."""

from .detect import parse_delivery
from .find import find_matrix_id
from .model import PLATFORMS, Field, PayloadError, Submission
from .signatures import (
    verify_standard_webhook,
    verify_tally,
    verify_typeform,
)

__all__ = [
    "PLATFORMS",
    "Field",
    "PayloadError",
    "Submission",
    "find_matrix_id",
    "parse_delivery",
    "verify_standard_webhook",
    "verify_tally",
    "verify_typeform",
]
