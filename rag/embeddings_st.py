"""all-MiniLM-L6-v2's original weights through sentence-transformers (torch, CPU): the reference
the ONNX engine is measured against. The only module that imports ``sentence_transformers``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sentence_transformers import SentenceTransformer

from rag.embeddings import DIMENSION, Vectors, minilm_dir


class SentenceTransformerMiniLM:
    model_id = "all-MiniLM-L6-v2"
    dimension = DIMENSION

    def __init__(self, *, model: SentenceTransformer, batch_size: int = 64) -> None:
        self._model = model
        self._batch_size = batch_size

    @classmethod
    def load(cls) -> SentenceTransformerMiniLM:
        return cls(model=SentenceTransformer(str(minilm_dir()), device="cpu"))

    def embed(self, texts: Sequence[str]) -> Vectors:
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
