"""The traveller's consent when an agent moves their money, one rule for every surface.

* An agent's booking, change or cancellation needs a 6-digit code sent to the traveller out of
  band (the SMS names the amount); the agent cannot read it, only relay what the traveller says.
* A code allows `MAX_CODE_ATTEMPTS` wrong tries, and a traveller is sent at most
  `approval_codes_per_day` codes a day for each kind of action, so that asking again cannot
  grind a code down: five codes of five tries give a guesser 25 chances in a million a day.
* Every agent call is rate limited per agent (one allowance for MCP and REST) and audited.

REST has no channel to carry a code back, so an agent's money-moving REST call is refused with
a problem that points to the MCP approval flow (`refuse_agent_money_move`); that flow is
bookings/agents.py, on these codes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from bookings.audit import AuditLog, record_call
from bookings.quotes import AgentRateLimit, CodeNotifier
from core.errors import ApprovalRequiredError, RateLimitedError, YatriError
from core.telemetry import AGENT_REST_CALLS, APPROVAL_CODES

MAX_CODE_ATTEMPTS = 5
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
Action = Literal["book", "modify", "cancel", "verify"]  # verify: a phone caller proves who they are


class ApprovalCodesExhaustedError(RateLimitedError):
    problem_type = "approval-codes-exhausted"
    title = "Too many approval codes today"


class ApprovalError(YatriError):
    """The code does not approve the action (wrong, expired, burned, or none pending)."""

    problem_type = "forbidden"
    title = "Forbidden"
    status = 403


class NoApprovalPendingError(ApprovalError):
    """No code is pending: none was asked for, or it expired, was spent or burned."""


@dataclass(frozen=True, slots=True)
class Approved:
    subject: str  # what the code approved: a quote id


@dataclass(frozen=True, slots=True)
class CodeAttempt:
    """A pending code as one more attempt at it finds it."""

    code_mac: str
    subject: str
    attempts: int  # this one included


class ApprovalStore(Protocol):
    """Pending codes under an opaque id (one per traveller, action and scope), and how many
    codes each traveller was sent for each action on each day."""

    async def count_issued(self, *, traveller_id: str, action: str, day: dt.date) -> int:
        """Count one more code sent on `day` (IST); the day's count, this one included."""
        ...

    async def put(self, code_id: str, *, code_mac: str, subject: str, ttl_s: int) -> None:
        """Replace any code pending under `code_id` with a fresh one (no attempts yet)."""
        ...

    async def attempt(self, code_id: str) -> CodeAttempt | None:
        """Count one attempt at the code pending under `code_id`; None when none is pending."""
        ...

    async def delete(self, code_id: str) -> None:
        """Spend or burn the code pending under `code_id`."""
        ...


class ApprovalCodes:
    """Codes for one traveller's approval of one action on one subject: the store keeps the
    code's HMAC (never the code), its wrong attempts and the subject, and the daily count per
    traveller and action."""

    def __init__(
        self,
        *,
        store: ApprovalStore,
        secret: bytes,
        notifier: CodeNotifier,
        per_day: int,
        ttl_s: float,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._store = store
        self._key = hmac.new(secret, b"yatri approval code", hashlib.sha256).digest()
        self._notifier = notifier
        self._per_day = per_day
        self._ttl_s = ttl_s
        self._clock = clock

    async def reserve(self, *, traveller_id: str, action: Action) -> None:
        """Count one code towards today's cap; refuse (429) past it."""
        now = self._clock().astimezone(IST)
        count = await self._store.count_issued(traveller_id=traveller_id, action=action,
                                               day=now.date())  # fmt: skip
        if count > self._per_day:
            APPROVAL_CODES.labels(action, "capped").inc()
            midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), IST)
            raise ApprovalCodesExhaustedError(
                f"the traveller has been sent {self._per_day} codes to {action} today, the most "
                "allowed; try again tomorrow",
                retry_after_s=int((midnight - now).total_seconds()) + 1,
            )

    @property
    def ttl_s(self) -> float:
        """How long a code stays valid."""
        return self._ttl_s

    def mac(self, subject: str, code: str) -> str:
        return hmac.new(self._key, f"{subject}:{code}".encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def new_code() -> str:
        return f"{secrets.randbelow(10**6):06d}"

    async def request(
        self, *, traveller_id: str, action: Action, scope: str, subject: str, text: str
    ) -> None:
        """Send a fresh code approving `subject` (replacing any pending one for `scope`);
        `text` is the message with `{code}` where the code goes."""
        await self.reserve(traveller_id=traveller_id, action=action)
        code = self.new_code()
        await self._store.put(self._code_id(traveller_id, action, scope),
                              code_mac=self.mac(subject, code), subject=subject,
                              ttl_s=max(1, int(self._ttl_s)))  # fmt: skip
        await self._notifier.send(traveller_id=traveller_id, text=text.format(code=code))
        APPROVAL_CODES.labels(action, "issued").inc()

    async def verify(self, *, traveller_id: str, action: Action, scope: str, code: str) -> Approved:
        """The subject the traveller approved with `code`; the code is spent either way once
        it matches or its tries run out."""
        code_id = self._code_id(traveller_id, action, scope)
        pending = await self._store.attempt(code_id)
        if pending is None:
            raise NoApprovalPendingError("no code is pending for this; ask for one first (call "
                                         "without a confirmation code)")  # fmt: skip
        attempts = pending.attempts
        if attempts > MAX_CODE_ATTEMPTS:
            await self._store.delete(code_id)
            APPROVAL_CODES.labels(action, "burned").inc()
            raise ApprovalError("too many wrong codes; ask for a new one")
        subject = pending.subject
        if not hmac.compare_digest(self.mac(subject, code), pending.code_mac):
            APPROVAL_CODES.labels(action, "wrong").inc()
            left = MAX_CODE_ATTEMPTS - attempts
            if left <= 0:
                await self._store.delete(code_id)
                APPROVAL_CODES.labels(action, "burned").inc()
                raise ApprovalError("the code does not match and no attempts are left; ask for a "
                                    "new one")  # fmt: skip
            raise ApprovalError(f"the code does not match ({left} attempts left)")
        await self._store.delete(code_id)
        APPROVAL_CODES.labels(action, "approved").inc()
        return Approved(subject=subject)

    @staticmethod
    def _code_id(traveller_id: str, action: str, scope: str) -> str:
        digest = hashlib.blake2b(f"{traveller_id}|{action}|{scope}".encode(), digest_size=12)
        return digest.hexdigest()


def refuse_agent_money_move(*, agent_id: str | None, operation: str) -> None:
    """The consent rule where no code can travel back (REST): an agent may not move money."""
    if agent_id is not None:
        raise ApprovalRequiredError(
            f"{operation} moves the traveller's money, so the traveller approves it with a "
            "code sent to them out of band: agents use the MCP tools at /mcp (quote_booking "
            "then confirm_booking; modify_booking and cancel_booking send the code with the "
            "amount)",
            approval_flow="/mcp",
        )


class AgentGate:
    """What every agent call on the bookings REST API passes: the per-agent rate limit, the
    consent rule, and the audit log."""

    def __init__(self, *, limit: AgentRateLimit, audit: AuditLog, per_minute: int) -> None:
        self._limit = limit
        self._audit = audit
        self._per_minute = per_minute

    async def admit(self, *, agent_id: str) -> None:
        """Take one call from the agent's allowance (shared with the MCP tools)."""
        wait_s = await self._limit.retry_after(agent_id)
        if wait_s is not None:
            raise RateLimitedError(
                f"at most {self._per_minute} calls a minute per agent; retry in {wait_s} s",
                retry_after_s=wait_s,
            )

    async def record(
        self,
        *,
        agent_id: str,
        traveller_id: str,
        operation: str,
        arguments: str,
        error: str | None,
        duration_ms: float,
    ) -> None:
        entry = await record_call(
            self._audit, agent_id=agent_id, traveller_id=traveller_id, tool=f"rest:{operation}",
            arguments=arguments, error=error, duration_ms=duration_ms,
        )  # fmt: skip
        AGENT_REST_CALLS.labels(operation, entry.outcome).inc()
