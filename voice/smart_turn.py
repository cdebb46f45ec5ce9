"""Smart Turn v3.2 (an end-of-turn classifier on Whisper features) as a `TurnDetector`, on
onnxruntime and the CPU. The only module that imports `onnxruntime` for voice.

The model file ships in voice/assets (8.7 MB, BSD-2-Clause, from the pipecat-ai 1.14.0 wheel;
see SMART_TURN_LICENSE.txt). About 20 ms of features and 120-200 ms of inference a check on
one thread of a loaded 2-core box.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from core.errors import StartupError
from voice.audio import PCM16
from voice.smart_turn_features import last_window, log_mel

MODEL_PATH = Path(__file__).parent / "assets" / "smart-turn-v3.2-cpu.onnx"
_INT16_SCALE = 32768.0


class SmartTurn:
    """P(the turn is complete) for the last 8 s of an utterance; build it with `load`."""

    def __init__(self, session: ort.InferenceSession) -> None:
        self._session = session

    @classmethod
    def load(cls, *, path: Path = MODEL_PATH, threads: int = 1) -> SmartTurn:
        """Load the model (about 0.3 s; call at start-up)."""
        options = ort.SessionOptions()
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except (OSError, RuntimeError, ValueError) as e:
            raise StartupError(f"cannot load the end-of-turn model from {path}: {e}") from e
        return cls(session)

    def complete_probability(self, pcm16_16k: PCM16) -> float:
        audio = pcm16_16k.astype(np.float32) / _INT16_SCALE
        features = log_mel(last_window(audio))[None, :, :]
        outputs = self._session.run(None, {"input_features": features})
        return float(np.asarray(outputs[0]).reshape(-1)[0])
