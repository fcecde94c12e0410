"""FindingsHead: the max-pooled local branch and the per-finding positive weights of its loss."""

from __future__ import annotations

import pytest
import torch

from medvlm.model.configuration import slots_from_ontology
from medvlm.model.heads import FindingsHead, pos_weights
from medvlm.ontology import load_ontology

SLOTS = slots_from_ontology(load_ontology())


@pytest.mark.parametrize(
    ("positives", "n", "expected"),
    [
        (50, 100, 1.0),  # balanced: no extra weight
        (90, 100, 1.0),  # more positives than negatives: never below 1
        (10, 100, 3.0),  # sqrt(90 / 10)
        (0, 100, 10.0),  # never seen: the cap, not infinity
    ],
)
def test_pos_weights(positives: int, n: int, expected: float) -> None:
    presence = torch.zeros(n, 2)
    presence[:positives, 0] = 1.0
    assert float(pos_weights(presence)[0]) == pytest.approx(expected)


def test_local_branch_sees_one_bright_token() -> None:
    torch.manual_seed(0)
    head = FindingsHead(SLOTS, feature_dim=8, tokens=16, local=True).eval()
    with torch.no_grad():
        head.local.weight[0, 0] = 1.0  # finding 0 scores feature 0 of each token
        head.out.weight[0] = 0.0  # and the main branch says nothing about it
    tokens = torch.zeros(2, 16, 8)
    tokens[1, 5, 0] = 4.0  # one token of the second film carries it
    with torch.no_grad():
        logits = head(tokens)
    assert logits.shape == (2, head.num_outputs)
    assert float(logits[1, 0] - logits[0, 0]) == pytest.approx(4.0)
    # laterality / severity logits are the main branch's alone
    plain = FindingsHead(SLOTS, feature_dim=8, tokens=16, local=False).eval()
    plain.load_state_dict({k: v for k, v in head.state_dict().items() if not k.startswith("local")})
    with torch.no_grad():
        assert torch.equal(plain(tokens)[:, len(SLOTS) :], logits[:, len(SLOTS) :])


def test_pos_weight_raises_the_loss_of_missed_positives() -> None:
    head = FindingsHead(SLOTS, feature_dim=8)
    logits = torch.zeros(1, head.num_outputs)
    n = len(SLOTS)
    targets = {
        "presence": torch.ones(1, n),
        "laterality": torch.full((1, n), -1),
        "severity": torch.full((1, n), -1),
    }
    plain = head.loss(logits, targets)
    weighted = head.loss(logits, targets, torch.full((n,), 3.0))
    assert float(weighted) == pytest.approx(3 * float(plain))


def test_fine_branch_sees_one_bright_cell_of_the_early_feature_map() -> None:
    head = FindingsHead(SLOTS, feature_dim=8, tokens=16, local=True, fine_channels=4).eval()
    with torch.no_grad():
        assert head.fine is not None
        head.fine.weight[0, 2, 1, 1] = 1.0  # finding 0 scores channel 2 of each cell
    tokens = torch.zeros(2, 16, 8)
    fine = torch.zeros(2, 4, 32, 32)
    fine[1, 2, 20, 7] = 3.0  # one cell of the second film
    with torch.no_grad():
        logits = head(tokens, fine=fine)
    assert float(logits[1, 0] - logits[0, 0]) == pytest.approx(3.0)
    assert torch.equal(logits[0, 1:], logits[1, 1:])  # other findings unaffected
    with pytest.raises(Exception, match="no early feature map"):
        head(tokens)


def test_bundle_fine_branch_round_trips_and_older_bundles_still_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from medvlm.model import build_model, load_bundle

    corpus = ["Heart size is normal. The lungs are clear.", "Small left pleural effusion."] * 5
    bundle = build_model("micro", load_ontology(), tokenizer_corpus=corpus, seed=0)
    assert bundle.config.head_fine_stage == 1 and bundle.head.fine is not None
    with torch.no_grad():
        bundle.head.fine.weight.normal_()
    images = torch.rand(2, 1, bundle.image_size, bundle.image_size)
    expected = bundle.findings_logits(images)
    loaded = load_bundle(bundle.save(tmp_path / "fine"))
    assert torch.allclose(loaded.findings_logits(images), expected, atol=1e-5)

    # a bundle saved before the fine branch existed: no fine weights, config without the keys
    import json

    older = build_model("micro", load_ontology(), tokenizer_corpus=corpus, seed=0)
    older.config.head_fine_stage, older.config.head_fine_channels = -1, 0
    from medvlm.model.heads import FindingsHead as Head

    older.head = Head(older.config.slots, older.config.vision_feature_dim, older.config.head_hidden,
                      older.config.head_tokens, local=True)
    directory = older.save(tmp_path / "older")
    config_file = directory / "medvlm_config.json"
    raw = json.loads(config_file.read_text())
    raw.pop("head_fine_stage"), raw.pop("head_fine_channels")
    config_file.write_text(json.dumps(raw))
    reloaded = load_bundle(directory)
    assert reloaded.head.fine is None
    assert reloaded.findings_logits(images).shape == expected.shape
