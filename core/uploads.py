"""Upload defaults shared by the settings and the content CLI, which reads them without loading
the settings (and pydantic) so that `yatri ingest` starts fast."""

from __future__ import annotations

UPLOAD_MAX_BYTES = 20 * 2**20
UPLOAD_TIMEOUT_S = 300.0
