"""The sandbox booking suppliers: an airline and a payment gateway in test mode, and the ledger
and desk that the hotel network's booking desk (hotel_network.py) keeps its holds in too.

Like a payment API's test mode they behave like the real thing (idempotency keys, holds that
expire, captures and refunds that add up) and fail on request. Their state is one SQLite file,
not memory, because the booking tests SIGKILL a Temporal worker mid-booking and restart it: the
new process must find what the old one held and charged, and the test process must be able to
count it. Faults are rows in the same file, so a test can arm them for a worker it cannot reach.

Every call is journalled under (supplier, key) with its arguments and its answer, declines
included, as payment APIs do: a repeat gets the first answer back, and nothing happens twice.

This module names the three suppliers that the composition root and most callers wire together;
each lives in its own module: the file's tables (sandbox_sqlite.py), the ledger
(sandbox_ledger.py), the desk around every call with its injected faults (sandbox_desk.py), the
airline (sandbox_airline.py) and the payment gateway (sandbox_payments.py).
"""

from bookings.suppliers.sandbox_airline import SandboxBookingAirline
from bookings.suppliers.sandbox_ledger import SandboxLedger
from bookings.suppliers.sandbox_payments import SandboxPayments

__all__ = ["SandboxBookingAirline", "SandboxLedger", "SandboxPayments"]
