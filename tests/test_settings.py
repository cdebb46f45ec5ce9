"""Settings: one class, environment-driven, unsafe values refused outside development."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from core.settings import (
    DEFAULT_CONTENT_KEY,
    DEFAULT_OPS_KEY,
    DEFAULT_SECRET,
    Environment,
    Settings,
)


def test_defaults_are_the_embedded_development_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("YATRI_REDIS_URL", "YATRI_QDRANT_URL", "YATRI_TEMPORAL_ADDRESS", "YATRI_PORT"):
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert s.env is Environment.DEVELOPMENT
    assert (s.host, s.port, s.data_dir) == ("127.0.0.1", 8000, Path(".yatri"))
    assert s.redis_url is None and s.qdrant_url is None and s.temporal_address is None


def test_environment_variables_with_the_prefix_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YATRI_PORT", "9123")
    monkeypatch.setenv("YATRI_REDIS_URL", "redis://cache.internal:6379/0")
    monkeypatch.setenv("YATRI_SESSION_TTL_S", "3600")
    s = Settings()
    assert s.port == 9123
    assert s.redis_url == "redis://cache.internal:6379/0"
    assert s.session_ttl_s == 3600


@pytest.mark.parametrize("secret", ["", DEFAULT_SECRET, "short-but-not-default"])
@pytest.mark.parametrize("env", [Environment.STAGING, Environment.PRODUCTION])
def test_unsafe_secret_is_refused_outside_development(secret: str, env: Environment) -> None:
    with pytest.raises(ValidationError, match="YATRI_SECRET_KEY must be set"):
        Settings(env=env, secret_key=SecretStr(secret))


def test_strong_secrets_are_accepted_in_production() -> None:
    s = Settings(
        env=Environment.PRODUCTION,
        secret_key=SecretStr("x" * 40),
        content_api_key=SecretStr("k" * 40),
        ops_api_key=SecretStr("o" * 40),
    )
    assert s.env is Environment.PRODUCTION
    assert "x" * 40 not in repr(s) and "k" * 40 not in repr(s)  # secrets never print
    assert "o" * 40 not in repr(s)


@pytest.mark.parametrize("key", [DEFAULT_CONTENT_KEY, "short"])
def test_default_content_key_is_refused_outside_development(key: str) -> None:
    with pytest.raises(ValidationError, match="YATRI_CONTENT_API_KEY must be set"):
        Settings(
            env=Environment.PRODUCTION,
            secret_key=SecretStr("x" * 40),
            content_api_key=SecretStr(key),
        )


@pytest.mark.parametrize("key", [DEFAULT_OPS_KEY, "short"])
def test_default_ops_key_is_refused_outside_development(key: str) -> None:
    with pytest.raises(ValidationError, match="YATRI_OPS_API_KEY must be set"):
        Settings(
            env=Environment.PRODUCTION,
            secret_key=SecretStr("x" * 40),
            content_api_key=SecretStr("k" * 40),
            ops_api_key=SecretStr(key),
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [("port", 70_000), ("session_ttl_s", 5), ("supplier_error_rate", 1.5), ("max_body_bytes", 10)],
)
def test_out_of_range_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: value})  # type: ignore[arg-type]
