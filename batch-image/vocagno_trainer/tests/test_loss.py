"""Selection and loss against values worked out by hand in the comments."""

from __future__ import annotations

import math

import torch

from vocagno_trainer.loss import (
    keep_count,
    select_batch,
    select_sequence,
    selected_mean_loss,
    token_cross_entropy,
)

NAN = math.nan


def test_token_cross_entropy_hand_values() -> None:
    # Logits log([1, 2, 1]) give softmax [0.25, 0.5, 0.25]: label 1 costs ln 2, label 0 costs ln 4.
    logits = torch.log(torch.tensor([[[1.0, 2.0, 1.0], [1.0, 2.0, 1.0]]]))
    labels = torch.tensor([[1, 0]])
    losses = token_cross_entropy(logits, labels)
    torch.testing.assert_close(losses, torch.tensor([[math.log(2), math.log(4)]]))


def test_keep_count_rounding() -> None:
    assert keep_count(5, 0.4) == 2  # 2.0 exactly
    assert keep_count(10, 0.7) == 7  # 7.000000000000001 must not become 8
    assert keep_count(4, 0.4) == 2  # 1.6 rounds to 2
    assert keep_count(5, 0.01) == 1  # at least one token when any is mapped
    assert keep_count(0, 0.4) == 0
    assert keep_count(3, 1.0) == 3


def test_select_sequence_include() -> None:
    # Mapped excess 3, 1, 5, 2: keep round(0.4 * 4) = 2, the largest 5 (position 3) and 3 (position 0),
    # plus the unmapped position 1.
    excess = torch.tensor([[3.0, NAN, 1.0, 5.0, 2.0]])
    selected = select_sequence(excess, 0.4, "include")
    assert selected.tolist() == [[True, True, False, True, False]]


def test_select_sequence_exclude() -> None:
    excess = torch.tensor([[3.0, NAN, 1.0, 5.0, 2.0]])
    selected = select_sequence(excess, 0.4, "exclude")
    assert selected.tolist() == [[True, False, False, True, False]]


def test_select_sequence_per_row() -> None:
    # Each row keeps its own top half: 10 and 9 in row 0, 4 and 3 in row 1.
    excess = torch.tensor([[10.0, 9.0, 8.0, 7.0], [1.0, 2.0, 3.0, 4.0]])
    selected = select_sequence(excess, 0.5, "include")
    assert selected.tolist() == [[True, True, False, False], [False, False, True, True]]


def test_select_batch_spans_rows() -> None:
    # The same excess ranked over the whole batch: the top 4 of 8 are 10, 9, 8 and 7, all in row 0.
    excess = torch.tensor([[10.0, 9.0, 8.0, 7.0], [1.0, 2.0, 3.0, 4.0]])
    (selected,) = select_batch([excess], 0.5, "include")
    assert selected.tolist() == [[True, True, True, True], [False, False, False, False]]


def test_select_batch_spans_micro_batches() -> None:
    # Mapped values over both micro-batches: 1, 4, 2, 3, 0.5, 6. Keep round(0.4 * 6) = 2: 6 and 4.
    first = torch.tensor([[1.0, 4.0], [NAN, 2.0]])
    second = torch.tensor([[3.0, NAN], [0.5, 6.0]])
    include = select_batch([first, second], 0.4, "include")
    assert include[0].tolist() == [[False, True], [True, False]]
    assert include[1].tolist() == [[False, True], [False, True]]
    exclude = select_batch([first, second], 0.4, "exclude")
    assert exclude[0].tolist() == [[False, True], [False, False]]
    assert exclude[1].tolist() == [[False, False], [False, True]]


def test_select_batch_ties_keep_exactly_k() -> None:
    # Four values, keep 2; three tie at the threshold 2.0, so the earliest two of them are kept.
    (selected,) = select_batch([torch.tensor([[1.0, 2.0, 2.0, 2.0]])], 0.5, "exclude")
    assert selected.tolist() == [[False, True, True, False]]


def test_select_batch_nothing_mapped() -> None:
    (selected,) = select_batch([torch.tensor([[NAN, NAN]])], 0.4, "include")
    assert selected.tolist() == [[True, True]]


def test_selected_mean_loss_hand_value() -> None:
    # Selected losses 1 and 4 over a global count of 4 selected targets: (1 + 4) / 4 = 1.25.
    token_loss = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    selected = torch.tensor([[True, False, False, True]])
    assert selected_mean_loss(token_loss, selected, 4.0).item() == 1.25
