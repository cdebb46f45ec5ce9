"""The default install: the ONNX embedding engine and the whole app load without torch or
sentence-transformers (the `reference` extra), with the tokenizer shipped in the repository."""

from __future__ import annotations

import hashlib
import subprocess
import sys

from rag.embeddings import TOKENIZER_PATH

PROBE = """
import sys
import api.commands
from rag.embeddings import load_embedder
vectors = load_embedder("onnx").embed(["cabin baggage on a domestic flight", "tatkal refund"])
assert vectors.shape == (2, 384), vectors.shape
heavy = sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules)
print("heavy:", heavy)
"""


def test_the_app_and_the_default_engine_never_import_torch() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("heavy: []"), done.stdout


def test_the_shipped_tokenizer_is_the_models_own() -> None:
    digest = hashlib.sha256(TOKENIZER_PATH.read_bytes()).hexdigest()
    notice = (TOKENIZER_PATH.parent / "NOTICE.md").read_text()
    assert digest in notice
    assert "Apache License 2.0" in notice


def test_yatri_ingest_starts_without_the_app() -> None:
    """`yatri ingest` and `yatri docs` need only an HTTP client: api/cli.py starts them from
    api/content_cli.py, whose imports leave the app, its clients and settings unloaded."""
    probe = (
        "import sys; sys.argv = ['yatri', 'ingest', '--help']\n"
        "import api.cli\n"
        "try:\n    api.cli.main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('fastapi', 'pydantic_settings', 'qdrant_client', 'onnxruntime', 'redis', "
        "'temporalio', 'api.app', 'ingest.pipeline')\n"
        "print('heavy:', sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "--check" in done.stdout
    assert done.stdout.strip().endswith("heavy: []"), done.stdout
