"""Fair sharing of voice streams: per-source limits, slots kept for new callers, the guests'
share, and the silence budget that frees the slot of a stream nobody speaks on."""

from __future__ import annotations

import pytest

from voice.admission import AdmissionLimits, AdmissionRefused, SilenceBudget, StreamAdmission


def refusal(admission: StreamAdmission, source: str, *, anonymous: bool = False) -> str:
    with pytest.raises(AdmissionRefused) as refused:
        admission.admit(source=source, anonymous=anonymous)
    return refused.value.reason


def test_one_source_cannot_take_every_stream() -> None:
    """The finding: one client opened all 8 streams and everyone else got 1013."""
    admission = StreamAdmission(AdmissionLimits(total=8, per_source=2))
    admission.admit(source="address:203.0.113.9", anonymous=True)
    admission.admit(source="address:203.0.113.9", anonymous=True)
    assert refusal(admission, "address:203.0.113.9", anonymous=True) == "source_limit"
    # Everyone else still gets in.
    for caller in range(6):
        admission.admit(source=f"caller:+9190000000{caller}", anonymous=False)
    assert admission.active == 8
    assert refusal(admission, "caller:+919999999999") == "over_limit"


def test_the_last_slots_go_only_to_callers_without_a_stream() -> None:
    admission = StreamAdmission(AdmissionLimits(total=8, per_source=4, new_caller_share=0.25))
    assert admission.limits.reserved == 2
    for n in range(3):
        admission.admit(source=f"traveller:t{n}", anonymous=False)
    for n in range(3):
        admission.admit(source=f"traveller:t{n}", anonymous=False)
    assert admission.active == 6
    # A seventh stream for a source that already has one would eat into the reserve.
    assert refusal(admission, "traveller:t0") == "reserved"
    admission.admit(source="traveller:new-1", anonymous=False)
    admission.admit(source="traveller:new-2", anonymous=False)
    assert refusal(admission, "traveller:new-3") == "over_limit"


def test_guests_together_hold_at_most_their_share() -> None:
    admission = StreamAdmission(AdmissionLimits(total=8, per_source=2, anonymous_share=0.5))
    for n in range(4):
        admission.admit(source=f"address:198.51.100.{n}", anonymous=True)
    assert refusal(admission, "address:198.51.100.77", anonymous=True) == "anonymous_share"
    admission.admit(source="traveller:asha", anonymous=False)  # a signed-in traveller fits


def test_released_slots_are_given_back_once() -> None:
    admission = StreamAdmission(AdmissionLimits(total=2, per_source=1))
    first = admission.admit(source="a", anonymous=True)
    assert refusal(admission, "a", anonymous=True) == "source_limit"
    first.release()
    first.release()  # a second release gives nothing back twice
    assert admission.active == 0
    again = admission.admit(source="a", anonymous=True)
    admission.admit(source="b", anonymous=False)
    assert refusal(admission, "c") == "over_limit"
    again.release()
    admission.admit(source="c", anonymous=True)


def test_small_processes_keep_at_least_one_slot_open_to_anyone() -> None:
    one = AdmissionLimits(total=1, per_source=1, new_caller_share=0.5, anonymous_share=0.1)
    assert (one.reserved, one.anonymous) == (0, 1)
    with pytest.raises(ValueError):
        AdmissionLimits(total=4, per_source=1, new_caller_share=1.0)


class Call:
    def __init__(self, *, heard: float, busy: bool = False) -> None:
        self.heard = heard
        self.is_busy = busy

    def last_heard(self) -> float:
        return self.heard

    def busy(self) -> bool:
        return self.is_busy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_silence_budget_runs_out_on_a_stream_nobody_speaks_on() -> None:
    clock = Clock()
    budget = SilenceBudget(limit_s=30, busy_grace_s=20, clock=clock)
    call = Call(heard=clock.now)
    assert budget.remaining_s(call) == 30
    clock.now += 29.5
    assert budget.remaining_s(call) == pytest.approx(0.5)
    clock.now += 0.5
    assert budget.remaining_s(call) == 0


def test_silence_budget_waits_for_an_utterance_under_way_but_not_for_ever() -> None:
    clock = Clock()
    budget = SilenceBudget(limit_s=30, busy_grace_s=20, recheck_s=1, clock=clock)
    call = Call(heard=clock.now, busy=True)
    clock.now += 35
    assert budget.remaining_s(call) == 1  # checked again shortly
    call.heard = clock.now  # the utterance became a turn
    call.is_busy = False
    assert budget.remaining_s(call) == 30
    call.is_busy = True  # noise that never becomes a turn
    clock.now += 49.5
    assert budget.remaining_s(call) == pytest.approx(0.5)
    clock.now += 0.5
    assert budget.remaining_s(call) == 0
