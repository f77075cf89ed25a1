"""Parsing form-platform webhook deliveries into submissions, and checking their signatures."""

from .detect import parse_delivery
from .find import find_matrix_id
from .model import PLATFORMS, Field, PayloadError, Submission
from .signatures import (
    sign_standard_webhook,
    sign_tally,
    sign_typeform,
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
    "sign_standard_webhook",
    "sign_tally",
    "sign_typeform",
    "verify_standard_webhook",
    "verify_tally",
    "verify_typeform",
]
