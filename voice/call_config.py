"""How a voice call takes turns: endpointing, partials, early endpoints, barge-in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from voice.vad import EndpointConfig


@dataclass(frozen=True, slots=True)
class CallConfig:
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    # Audio kept from before speech is detected, so the first syllable is not clipped.
    preroll_ms: int = 300
    # New audio between partial decodes while the caller speaks.
    partial_interval_ms: int = 700
    transport: str = "app"
    # With a finished speculative decode and a turn that looks complete (to the end-of-turn
    # model where the engines have one, else to the text rule), this much trailing silence
    # ends the turn; None waits for the full silence window every time.
    early_endpoint_ms: int | None = 200
    # The end-of-turn model's probability from which a pause ends the turn.
    turn_threshold: float = 0.5
    # Speech over a playing reply must last this long before it may stop the reply; then a
    # quick decode of it must be more than back-channel ("check"), or it stops the reply
    # at once ("duration").
    barge_in_min_speech_ms: int = 400
    barge_in: Literal["check", "duration"] = "check"
    # False is the naive baseline benchmarks compare against: no partials, one decode after
    # the endpoint, and the reply sent only once all of it is synthesised.
    streaming: bool = True
