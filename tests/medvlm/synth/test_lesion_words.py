"""Modifiers read from report words, per finding."""

from __future__ import annotations

import pytest

from medvlm.findings import Finding, Presence
from medvlm.synth.lesion_words import modifiers_for

CASES = [
    ("Subtle ill-defined opacity at the left base.", "lung_opacity", {"subtle", "ill-defined", "basal"}),
    ("Cannot exclude small left pleural effusion.", "pleural_effusion", {"uncertain"}),
    ("Trace bilateral pleural effusions.", "pleural_effusion", {"trace"}),
    ("Spiculated mass in the right upper lobe.", "mass", {"spiculated"}),
    ("Well-circumscribed 1 cm nodule.", "nodule", {"well-defined"}),
    ("Dense consolidation of the right lower lobe.", "consolidation", {"dense", "basal"}),
    ("Plate-like atelectasis in the lingula.", "atelectasis", {"plate-like"}),
    ("Interstitial edema with Kerley B lines.", "pulmonary_edema", {"interstitial"}),
    ("Calcified granuloma in the left apex.", "calcified_granuloma", {"calcified"}),
]


@pytest.mark.parametrize(("text", "label", "expected"), CASES)
def test_modifiers_are_read_from_the_sentence_about_the_finding(text: str, label: str, expected: set[str]):
    mods = modifiers_for([Finding(label)], "Heart size normal. " + text + " No pneumothorax.")
    assert expected <= mods[label]


def test_other_sentences_do_not_leak():
    text = "Spiculated mass in the right upper lobe. Small left pleural effusion."
    mods = modifiers_for([Finding("mass"), Finding("pleural_effusion")], text)
    assert "spiculated" in mods["mass"] and "spiculated" not in mods.get("pleural_effusion", frozenset())


def test_evidence_sentence_is_used_and_mesh_tags_are_not():
    f = Finding("lung_opacity", Presence.PRESENT, evidence="Hazy opacity in the right lung")
    assert "ill-defined" in modifiers_for([f], "")["lung_opacity"]
    tag = Finding("lung_opacity", evidence="Opacity/lung/base/left/patchy")
    assert modifiers_for([tag], "") == {}


def test_no_words_no_entry():
    assert modifiers_for([Finding("cardiomegaly")], "The heart is enlarged.") == {}
