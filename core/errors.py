"""One error hierarchy for Yatri. Each error knows its problem type, HTTP status and retryability.

Domain code raises these; the API maps them to RFC 9457 problem+json in one place.
"""

from __future__ import annotations

from typing import Any, ClassVar


class YatriError(Exception):
    """Base of every error Yatri raises on purpose."""

    problem_type: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"
    status: ClassVar[int] = 500
    retryable: ClassVar[bool] = False

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class InvalidRequestError(YatriError):
    problem_type = "invalid-request"
    title = "Invalid request"
    status = 422


class UnauthorizedError(YatriError):
    problem_type = "unauthorized"
    title = "Unauthorized"
    status = 401


class ForbiddenError(YatriError):
    problem_type = "forbidden"
    title = "Forbidden"
    status = 403


class NotFoundError(YatriError):
    problem_type = "not-found"
    title = "Not found"
    status = 404


class ConflictError(YatriError):
    problem_type = "conflict"
    title = "Conflict"
    status = 409


class DeadlineExceededError(YatriError):
    """The request's own deadline passed before Yatri could answer."""

    problem_type = "deadline-exceeded"
    title = "Deadline exceeded"
    status = 504
    retryable = True


class DependencyUnavailableError(YatriError):
    """A platform dependency (Redis, Qdrant, Temporal) did not answer."""

    problem_type = "dependency-unavailable"
    title = "A dependency is unavailable"
    status = 503
    retryable = True


class SupplierError(YatriError):
    """A supplier (airline, hotel, payment) failed; retryable unless it said the request is wrong."""

    problem_type = "supplier-error"
    title = "Supplier error"
    status = 502
    retryable = True

    def __init__(self, detail: str, *, supplier: str, retryable: bool = True, **extensions: Any):
        super().__init__(detail, supplier=supplier, **extensions)
        self.supplier = supplier
        self.is_retryable = retryable


class SupplierTimeoutError(SupplierError):
    problem_type = "supplier-timeout"
    title = "Supplier timed out"
    status = 504


class StartupError(YatriError):
    """Yatri cannot start as configured (port in use, data dir locked, missing binary)."""

    problem_type = "startup-error"
    title = "Cannot start"


class CircuitOpenError(SupplierError):
    """A supplier's circuit breaker is open: Yatri refused the call without making it.

    Worth retrying later (HTTP), never at once: the resilience loop fails fast on it.
    """

    problem_type = "supplier-unavailable"
    title = "Supplier unavailable"
    status = 503
    retryable = True

    def __init__(self, detail: str, *, supplier: str, **extensions: Any) -> None:
        super().__init__(detail, supplier=supplier, retryable=False, **extensions)


class BulkheadFullError(SupplierError):
    """Too many calls to one supplier are in flight; the caller should back off, not hammer."""

    problem_type = "supplier-busy"
    title = "Supplier busy"
    status = 503
    retryable = False

    def __init__(self, detail: str, *, supplier: str, **extensions: Any) -> None:
        super().__init__(detail, supplier=supplier, retryable=False, **extensions)


class RateLimitedError(YatriError):
    """The caller exceeded its allowance; `retry_after_s` says when to try again."""

    problem_type = "rate-limited"
    title = "Too many requests"
    status = 429
    retryable = True

    def __init__(self, detail: str, *, retry_after_s: int, **extensions: Any) -> None:
        super().__init__(detail, retry_after_s=retry_after_s, **extensions)
        self.retry_after_s = retry_after_s


class QuoteRequiredError(YatriError):
    """Money would move without the traveller having seen the amount first."""

    problem_type = "quote-required"
    title = "A quote is required first"
    status = 428


class QuoteMismatchError(YatriError):
    """The amount the caller agreed to is not what the change costs now: nothing moved."""

    problem_type = "quote-mismatch"
    title = "The amount differs from the quote"
    status = 409


class ApprovalRequiredError(YatriError):
    """An agent tried to move a traveller's money without the traveller's approval."""

    problem_type = "agent-approval-required"
    title = "The traveller must approve this"
    status = 403
