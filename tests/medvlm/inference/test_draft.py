"""Drafting with a real (tiny, untrained) model: findings, guarded text, edited findings, batches, errors."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import torch

from medvlm.errors import ModelInputError
from medvlm.findings import Finding, Laterality, Presence
from medvlm.inference.consistency import check_consistency
from medvlm.inference.draft import draft_batch, draft_study
from medvlm.inference.guard import phrase_for
from medvlm.ontology import load_ontology


def _image(bundle: Any, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(1, bundle.image_size, bundle.image_size, generator=generator)


def test_draft_from_model_findings(tiny_bundle: Any) -> None:
    image = _image(tiny_bundle, 0)
    result = draft_study(tiny_bundle, image)
    assert [f.label for f in result.findings] == tiny_bundle.names  # every label, head order
    assert all(f.probability is not None and 0 <= f.probability <= 1 for f in result.findings)
    thresholds = [tiny_bundle.config.threshold(n) for n in tiny_bundle.names]
    assert [f.threshold for f in result.findings] == thresholds
    absent = [f for f in result.findings if f.presence == Presence.ABSENT]
    assert absent and all(f.laterality is None and f.severity is None for f in absent)
    present = {f.label for f in result.findings if f.presence != Presence.ABSENT}
    assert not ("no_finding" in present and len(present) > 1)
    assert result.model_version == tiny_bundle.version and len(result.model_version) == 16
    assert result.input_hashes == [hashlib.sha256(image.numpy().tobytes()).hexdigest()]
    assert not result.edited and result.source == "tensor"
    # the guard's verdict is the checker's verdict on the final text
    final = check_consistency(result.findings, result.findings_text, result.impression)
    unparsed = [f for f in result.consistency_flags if f.kind == "unparsed"]
    assert final == [f for f in result.consistency_flags if f.kind != "unparsed"]
    assert all("removed" in f.message and f.sentence not in result.findings_text for f in unparsed)
    # untrained text is noise: the guard repaired all but what no wording can state (a device of unknown type)
    assert result.repairs
    for flag in final:
        finding = next(f for f in result.findings if f.label == flag.label)
        assert flag.kind == "omission" and phrase_for(finding, load_ontology()) is None
    assert set(result.timings_ms) == {"load", "findings", "report", "guard"}
    payload = result.to_dict()
    assert payload["model_version"] == result.model_version and isinstance(payload["findings"], list)


def test_flag_mode_keeps_the_model_text(tiny_bundle: Any) -> None:
    result = draft_study(tiny_bundle, _image(tiny_bundle, 1), guard="flag")
    assert (result.findings_text, result.impression) == result.generated
    assert result.repairs == []
    readable = [f for f in result.consistency_flags if f.kind != "unparsed"]  # untrained: noise text
    assert readable == check_consistency(result.findings, *result.generated)


@pytest.mark.parametrize(
    "edited",
    [
        [Finding("pleural_effusion", laterality=Laterality.LEFT, severity="large")],
        [{"label": "pneumothorax", "laterality": "right", "severity": "small"}, {"label": "cardiomegaly"}],
        [Finding("no_finding")],
        [Finding("pneumothorax", presence=Presence.UNCERTAIN)],
    ],
)
def test_regenerate_from_edited_findings(tiny_bundle: Any, edited: list) -> None:
    result = draft_study(tiny_bundle, _image(tiny_bundle, 2), edited)
    assert result.edited
    wanted = {(f if isinstance(f, Finding) else Finding.from_dict(f)).label for f in edited}
    assert {f.label for f in result.findings} == wanted
    # the untrained model writes noise: removed and flagged as such, nothing else left to flag
    assert [f for f in result.consistency_flags if f.kind != "unparsed"] == []
    assert check_consistency(result.findings, result.findings_text, result.impression) == []
    by_label = {f.label: f for f in result.findings}
    # critical is recomputed from the ontology (pneumothorax always; effusion when large)
    if "pneumothorax" in by_label:
        assert by_label["pneumothorax"].critical == (by_label["pneumothorax"].presence != Presence.ABSENT)
    if "pleural_effusion" in by_label:
        assert by_label["pleural_effusion"].critical is True


def test_batch_matches_single_study_findings(tiny_bundle: Any) -> None:
    images = [_image(tiny_bundle, s) for s in (3, 4, 5)]
    batch = draft_batch(tiny_bundle, images, [None, [Finding("cardiomegaly")], None], batch_size=2)
    assert len(batch) == 3 and [r.edited for r in batch] == [False, True, False]
    single = draft_study(tiny_bundle, images[2])
    expected = [f.probability for f in single.findings]
    assert [f.probability for f in batch[2].findings] == pytest.approx(expected, abs=1e-5)
    assert batch[1].findings == [Finding("cardiomegaly")]


@pytest.mark.parametrize(
    ("edited", "message"),
    [
        ([Finding("unicorn")], "unknown finding 'unicorn'"),
        ([Finding("cardiomegaly", laterality=Laterality.LEFT)], "laterality left not allowed"),
        ([Finding("pleural_effusion", severity="huge")], "severity 'huge' not allowed"),
        ([Finding("cardiomegaly"), Finding("cardiomegaly")], "given twice"),
        ([{"label": "cardiomegaly", "colour": "red"}], "not a finding"),
        ([{"label": "cardiomegaly", "presence": "maybe"}], "not a finding"),
    ],
)
def test_bad_edited_findings_are_named(tiny_bundle: Any, edited: list, message: str) -> None:
    with pytest.raises(ModelInputError, match=message):
        draft_study(tiny_bundle, _image(tiny_bundle, 0), edited)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda b: draft_study(b, torch.rand(1, 32, 32)), r"shape \(1, 256, 256\), got \(1, 32, 32\)"),
        (lambda b: draft_study(b, torch.rand(3, 256, 256)), r"got \(3, 256, 256\)"),
        (lambda b: draft_study(b, []), "at least one file"),
        (lambda b: draft_batch(b, [torch.rand(1, 256, 256)], [None, None]), "1 studies but 2"),
        (lambda b: draft_study(b, torch.rand(1, 256, 256), guard="off"), "guard must be"),
        (lambda b: draft_batch(b, [torch.rand(1, 256, 256)], batch_size=0), "batch_size"),
    ],
)
def test_bad_inputs_are_named(tiny_bundle: Any, call: Any, message: str) -> None:
    with pytest.raises(ModelInputError, match=message):
        call(tiny_bundle)


def test_edited_absent_finding_loses_its_attributes(tiny_bundle: Any) -> None:
    edited = [Finding("pneumothorax", Presence.ABSENT, laterality=Laterality.LEFT, severity="moderate"),
              Finding("no_finding"), Finding("nodule")]
    result = draft_study(tiny_bundle, _image(tiny_bundle, 2), edited)
    by_label = {f.label: f for f in result.findings}
    assert (by_label["pneumothorax"].laterality, by_label["pneumothorax"].severity) == (None, None)
    assert by_label["no_finding"].presence == Presence.ABSENT  # never beside a present finding
