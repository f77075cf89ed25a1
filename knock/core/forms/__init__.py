"""Parsing form-platform webhook deliveries into submissions, and checking their signatures."""

from .callers import (
    CallerKind,
    Policy,
    Proof,
    Secrets,
    Sender,
    bearer_token,
    classify,
    prove,
    require_own_signature,
    same_secret,
    same_site_post,
)
from .detect import parse_delivery
from .find import find_matrix_id
from .headers import is_json, signature_platform
from .model import PLATFORMS, Field, PayloadError, Reading, Submission
from .signatures import (
    verify_standard_webhook,
    verify_tally,
    verify_typeform,
)
from .text import require_storable

__all__ = [
    "PLATFORMS",
    "CallerKind",
    "Field",
    "PayloadError",
    "Policy",
    "Proof",
    "Reading",
    "Secrets",
    "Sender",
    "Submission",
    "bearer_token",
    "classify",
    "find_matrix_id",
    "is_json",
    "parse_delivery",
    "prove",
    "require_own_signature",
    "require_storable",
    "same_secret",
    "same_site_post",
    "signature_platform",
    "verify_standard_webhook",
    "verify_tally",
    "verify_typeform",
]
