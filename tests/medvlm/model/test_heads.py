"""FindingsHead: the pooled grid, the max-pooled local branch and the positive weights of its loss."""

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


def test_detail_branch_adds_its_strongest_position() -> None:
    head = FindingsHead(SLOTS, feature_dim=8, tokens=16, local=True, detail_channels=4).eval()
    with torch.no_grad():
        head.detail.weight.zero_()
        head.detail.weight[0, 2] = 1.0  # finding 0 scores channel 2 of the detail map
    tokens = torch.zeros(2, 16, 8)
    detail = torch.zeros(2, 4, 32, 32)
    detail[1, 2, 7, 19] = 3.0  # one cell of the second film's detail map
    with torch.no_grad():
        logits = head(tokens, detail)
        where = head.detail_logits(detail)
    assert float(logits[1, 0] - logits[0, 0]) == pytest.approx(3.0)
    assert where.shape == (2, 32 * 32, len(SLOTS))
    assert int(torch.argmax(where[1, :, 0])) == 7 * 32 + 19


def test_detail_branch_needs_its_map() -> None:
    from medvlm.errors import ModelInputError

    head = FindingsHead(SLOTS, feature_dim=8, tokens=16, detail_channels=4).eval()
    with pytest.raises(ModelInputError, match="detail map"):
        head(torch.zeros(1, 16, 8))
    with pytest.raises(ModelInputError, match=r"\(B, 4, H, W\)"):
        head(torch.zeros(1, 16, 8), torch.zeros(1, 3, 8, 8))


def test_pooled_head_reads_cells_not_tokens() -> None:
    torch.manual_seed(0)
    head = FindingsHead(SLOTS, feature_dim=8, hidden=16, tokens=64, channels=4, pool=4).eval()
    assert head.body[0].num_features == 16 * 4  # 4x4 cells of 4 channels, not 64 tokens
    grid = torch.zeros(3, 8, 8, 8)
    grid[0, 0, 0, 0] = 5.0  # token (0, 0)
    grid[1, 1, 1, 0] = 5.0  # token (1, 1): the same 2x2 cell
    grid[2, 6, 6, 0] = 5.0  # token (6, 6): another cell
    with torch.no_grad():
        logits = head(grid.flatten(1, 2))
    assert logits.shape == (3, head.num_outputs)
    assert torch.allclose(logits[0], logits[1])  # where inside a cell does not matter
    assert not torch.allclose(logits[0], logits[2])  # which cell does


@pytest.mark.parametrize("tokens", [60, 4])
def test_pool_needs_a_square_grid_of_enough_tokens(tokens: int) -> None:
    with pytest.raises(ValueError, match="square grid"):
        FindingsHead(SLOTS, feature_dim=8, tokens=tokens, pool=4)
