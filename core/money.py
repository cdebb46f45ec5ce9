"""Money as people read it: integer paise shown as rupees with Indian digit grouping."""

from __future__ import annotations


def rupees(paise: int) -> str:
    """₹ with Indian digit grouping (₹1,23,456), whole rupees (paise dropped, as fares show)."""
    sign = "-" if paise < 0 else ""
    whole = abs(paise) // 100
    digits = str(whole)
    if len(digits) > 3:
        head, tail = digits[:-3], digits[-3:]
        groups: list[str] = []
        while len(head) > 2:
            groups.insert(0, head[-2:])
            head = head[:-2]
        if head:
            groups.insert(0, head)
        digits = ",".join(groups) + "," + tail
    return f"{sign}₹{digits}"
