"""Optional vLLM generation for large ``path:`` bundles on a GPU, behind ``ModelBundle.generate_text``.

vLLM is not a dependency: it is imported only when a bundle is switched to ``backend="vllm"``, and a
missing install is a ``ConfigError`` saying so. vLLM serves the bundle's saved ``model/`` folder (LoRA
already merged) with the checkpoint's processor; the findings head keeps running in torch.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medvlm.errors import ConfigError


def available() -> bool:
    return importlib.util.find_spec("vllm") is not None


class VllmGenerator:
    def __init__(self, model_dir: Path, stop_strings: Sequence[str], num_beams: int) -> None:
        if not available():
            raise ConfigError(
                "the vllm generation backend needs the vllm package, which is not installed; install it on "
                "the GPU server (pip install vllm) or use backend='transformers'"
            )
        if not (model_dir / "config.json").is_file():
            raise ConfigError(f"vllm serves a saved bundle; no model/config.json under {model_dir}")
        from vllm import LLM  # type: ignore[import-not-found]

        self.llm = LLM(
            model=str(model_dir),
            tokenizer=str(model_dir.parent / "processor"),
            dtype="auto",
            limit_mm_per_prompt={"image": 1},
        )
        self.stop = list(stop_strings)
        self.num_beams = num_beams

    def generate(self, chats: Sequence[str], images: Sequence[Any], max_new_tokens: int) -> list[str]:
        """Greedy (or beam) completions of chat-formatted prompts, one PIL image each."""
        from vllm import SamplingParams  # type: ignore[import-not-found]

        requests = [
            {"prompt": c, "multi_modal_data": {"image": im}} for c, im in zip(chats, images, strict=True)
        ]
        if self.num_beams > 1:
            from vllm.sampling_params import BeamSearchParams  # type: ignore[import-not-found]

            params = BeamSearchParams(beam_width=self.num_beams, max_tokens=max_new_tokens)
            outs = self.llm.beam_search(requests, params)
            return [o.sequences[0].text for o in outs]
        sampling = SamplingParams(temperature=0.0, max_tokens=max_new_tokens, stop=self.stop or None)
        return [o.outputs[0].text for o in self.llm.generate(requests, sampling)]
