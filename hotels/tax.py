"""GST on hotel rooms, by the slabs in force since 22 September 2025: a room-night of ₹1,000 or
less is exempt, up to ₹7,500 pays 5 %, above ₹7,500 pays 18 %. The slab follows the value of
one room for one night (the transaction value), so each night is taxed on its own rate."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

EXEMPT_UPTO_PAISE = 1_000 * 100
LOW_SLAB_UPTO_PAISE = 7_500 * 100


def gst_rate_percent(rate_paise: int) -> int:
    if rate_paise <= EXEMPT_UPTO_PAISE:
        return 0
    return 5 if rate_paise <= LOW_SLAB_UPTO_PAISE else 18


def gst_paise(rate_paise: int) -> int:
    """GST on one room-night, rounded down to the paisa."""
    return rate_paise * gst_rate_percent(rate_paise) // 100


def with_gst(rates: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Nightly rates (paise) with GST added, element-wise, the same rounding as `gst_paise`."""
    percent = np.where(rates <= EXEMPT_UPTO_PAISE, 0, np.where(rates <= LOW_SLAB_UPTO_PAISE, 5, 18))
    return rates + rates * percent // 100
