"""run_step on a tiny real Llama: the shift, keep_ratio 1 against cross-entropy, accumulation."""

from __future__ import annotations

import contextlib
import copy
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformers import LlamaForCausalLM

from vocagno_trainer.config import GuidedLossConfig
from vocagno_trainer.step import MicroBatch, run_step

NAN = math.nan


def _model(student_directory: Path) -> LlamaForCausalLM:
    return LlamaForCausalLM.from_pretrained(student_directory, dtype=torch.float32)


def _batch(rows: int, length: int, seed: int, unmapped_share: float = 0.0) -> MicroBatch:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 32000, (rows, length + 1), generator=generator)
    teacher = torch.rand(rows, length, generator=generator) * 5
    teacher[torch.rand(rows, length, generator=generator) < unmapped_share] = NAN
    return MicroBatch(input_ids=ids[:, :-1], labels=ids[:, 1:], teacher_loss=teacher)


def _gradients(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: parameter.grad.clone() for name, parameter in model.named_parameters()}


def test_guided_full_keep_equals_baseline(student_directory: Path) -> None:
    batch = _batch(2, 16, seed=0)
    guided_model = _model(student_directory)
    baseline_model = copy.deepcopy(guided_model)
    guided = run_step(
        guided_model, [batch], "guided", GuidedLossConfig(keep_ratio=1.0), contextlib.nullcontext
    )
    baseline = run_step(baseline_model, [batch], "baseline", GuidedLossConfig(), contextlib.nullcontext)
    assert guided.loss == baseline.loss
    guided_gradients = _gradients(guided_model)
    for name, gradient in _gradients(baseline_model).items():
        assert torch.equal(guided_gradients[name], gradient), name


def test_baseline_equals_cross_entropy(student_directory: Path) -> None:
    batch = _batch(2, 16, seed=1)
    model = _model(student_directory)
    stats = run_step(model, [batch], "baseline", GuidedLossConfig(), contextlib.nullcontext)
    reference_model = _model(student_directory)
    logits = reference_model(input_ids=batch.input_ids).logits
    reference = F.cross_entropy(logits.flatten(0, 1), batch.labels.flatten())
    reference.backward()
    assert math.isclose(stats.loss, reference.item(), rel_tol=1e-6)
    reference_gradients = _gradients(reference_model)
    for name, gradient in _gradients(model).items():
        torch.testing.assert_close(gradient, reference_gradients[name], rtol=1e-5, atol=1e-8, msg=name)


def test_guided_loss_uses_shifted_teacher(student_directory: Path) -> None:
    # Teacher losses of -100 make their targets the largest excess, so with keep_ratio 3/15 exactly
    # those 3 targets are kept; unmapped targets (4 of them) are added by `include`.
    batch = _batch(1, 20, seed=2)
    marked = [2, 7, 11]
    unmapped = [0, 5, 9, 19]
    batch.teacher_loss[0, marked] = -100.0
    batch.teacher_loss[0, unmapped] = NAN
    model = _model(student_directory)
    with torch.no_grad():
        logits = model(input_ids=batch.input_ids).logits[0]
    # Loss at position p is the student's cost of labels[p] = input_ids[p + 1].
    expected_costs = -torch.log_softmax(logits, dim=-1)[torch.arange(20), batch.labels[0]]

    include = run_step(model, [batch], "guided", GuidedLossConfig(keep_ratio=0.2), contextlib.nullcontext)
    # 16 mapped targets, round(0.2 * 16) = 3 kept: the marked ones.
    assert include.kept == 3 + 4
    assert math.isclose(include.loss, expected_costs[marked + unmapped].mean().item(), rel_tol=1e-5)

    model.zero_grad()
    exclude = run_step(
        model, [batch], "guided", GuidedLossConfig(keep_ratio=0.2, unmapped="exclude"), contextlib.nullcontext
    )
    assert exclude.kept == 3
    assert math.isclose(exclude.loss, expected_costs[marked].mean().item(), rel_tol=1e-5)
    assert math.isclose(exclude.teacher_coverage, 16 / 20)


def test_sequence_scope_hand_selection(student_directory: Path) -> None:
    # Row 0 contains every low teacher loss (-100 at 1 and 3, -50 at 5 and 7), so batch scope keeps only
    # row-0 targets; sequence scope keeps round(0.2 * 10) = 2 per row: positions 1 and 3 in row 0,
    # and row 1's two largest excess values.
    batch = _batch(2, 10, seed=3)
    batch.teacher_loss[0, [1, 3]] = -100.0
    batch.teacher_loss[0, [5, 7]] = -50.0
    model = _model(student_directory)
    with torch.no_grad():
        logits = model(input_ids=batch.input_ids).logits
    costs = -torch.log_softmax(logits, dim=-1).gather(-1, batch.labels[..., None])[..., 0]
    row_one = torch.topk(costs[1] - batch.teacher_loss[1], 2).indices
    expected_sequence = torch.cat([costs[0, [1, 3]], costs[1, row_one]]).mean().item()
    expected_batch = costs[0, [1, 3, 5, 7]].mean().item()  # round(0.2 * 20) = 4 kept

    sequence = run_step(
        model, [batch], "guided", GuidedLossConfig(keep_ratio=0.2, scope="sequence"), contextlib.nullcontext
    )
    model.zero_grad()
    whole = run_step(
        model, [batch], "guided", GuidedLossConfig(keep_ratio=0.2, scope="batch"), contextlib.nullcontext
    )
    assert math.isclose(sequence.loss, expected_sequence, rel_tol=1e-5)
    assert math.isclose(whole.loss, expected_batch, rel_tol=1e-5)


@pytest.mark.parametrize("accumulation", ["recompute", "retain"])
def test_accumulation_matches_one_batch(student_directory: Path, accumulation: str) -> None:
    # The batch-scope threshold and the normalizer cover all micro-batches, so two micro-batches
    # of 2 give the gradients of one micro-batch of 4.
    batch = _batch(4, 12, seed=4, unmapped_share=0.2)
    halves = [
        MicroBatch(batch.input_ids[rows], batch.labels[rows], batch.teacher_loss[rows])
        for rows in (slice(0, 2), slice(2, 4))
    ]
    whole_model = _model(student_directory)
    split_model = copy.deepcopy(whole_model)
    guided = GuidedLossConfig(keep_ratio=0.4, accumulation=accumulation)
    whole = run_step(whole_model, [batch], "guided", guided, contextlib.nullcontext)
    split = run_step(split_model, halves, "guided", guided, contextlib.nullcontext)
    assert whole.kept == split.kept
    assert math.isclose(whole.loss, split.loss, rel_tol=1e-5)
    split_gradients = _gradients(split_model)
    for name, gradient in _gradients(whole_model).items():
        torch.testing.assert_close(split_gradients[name], gradient, rtol=1e-4, atol=1e-7, msg=name)
