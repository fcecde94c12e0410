"""A ``path:`` checkpoint's own processor: its image processor, tokenizer and chat template, loaded offline.

Qwen2-VL / Qwen2.5-VL and SmolVLM processors also hold a video processor, which transformers only builds
with torchvision (not installable beside our torch). We never send video, so when ``AutoProcessor`` fails
for that reason the same processor class is built from the checkpoint's files without it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medvlm.errors import ConfigError

# processor_config.json keys that are constructor arguments of the processors we support
_PROCESSOR_KWARGS = (
    "patch_size",
    "vision_feature_select_strategy",
    "num_additional_image_tokens",
    "image_seq_len",
    "image_seq_length",
)


def image_only_processor(
    cls: type, image_processor: Any, tokenizer: Any, chat_template: str | None, **kwargs: Any
) -> Any:
    """An instance of the processor class ``cls`` without a video processor (same name, same files)."""
    attributes = cls.get_attributes() if hasattr(cls, "get_attributes") else ["image_processor", "tokenizer"]
    if "video_processor" not in attributes:
        return cls(image_processor, tokenizer, chat_template=chat_template, **kwargs)
    # The attribute list drives both the constructor's checks and save_pretrained; without the video
    # processor in it, the positional video argument is dropped and nothing looks for torchvision.
    kept = [a for a in attributes if a != "video_processor"]
    sub = type(cls.__name__, (cls,), {"get_attributes": classmethod(lambda _cls: list(kept))})
    return sub(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=None,
        chat_template=chat_template,
        **kwargs,
    )


def _chat_template(directory: Path, tokenizer: Any) -> str | None:
    jinja = directory / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text()
    legacy = directory / "chat_template.json"
    if legacy.is_file():
        return str(json.loads(legacy.read_text()).get("chat_template") or "") or None
    return getattr(tokenizer, "chat_template", None)


def load_processor(directory: Path) -> Any:
    """The checkpoint's processor (``AutoProcessor``, else rebuilt without video); a clear error if absent."""
    import transformers
    from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer

    try:
        return AutoProcessor.from_pretrained(directory, local_files_only=True)
    except (AttributeError, ValueError, TypeError, ImportError, OSError) as first:
        config_file = directory / "processor_config.json"
        data = json.loads(config_file.read_text()) if config_file.is_file() else {}
        name = data.get("processor_class")
        cls = getattr(transformers, str(name), None) if name else None
        if cls is None:
            raise ConfigError(
                f"{directory} has no usable processor (expected processor_config.json with a processor_class "
                f"transformers ships; got {name!r}): {first}"
            ) from first
        try:
            image_processor = AutoImageProcessor.from_pretrained(directory, local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{directory}: cannot load its image processor or tokenizer: {exc}") from exc
        kwargs = {k: data[k] for k in _PROCESSOR_KWARGS if k in data}
        return image_only_processor(
            cls, image_processor, tokenizer, _chat_template(directory, tokenizer), **kwargs
        )
