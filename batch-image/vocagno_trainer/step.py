"""One optimizer step's forward and backward passes with the guided or the baseline loss.

Every micro-batch's loss is `sum(selected token losses) / global selected count
× world size`: data-parallel wrappers average gradients over ranks, so the
summed gradient equals that of the mean over the whole global batch's selected
targets, whatever the accumulation and the number of ranks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .config import GuidedLossConfig
from .data import IGNORE_INDEX
from .loss import (
    excess_loss,
    keep_count,
    select_batch,
    select_sequence,
    selected_mean_loss,
    token_cross_entropy,
)


@dataclass
class MicroBatch:
    input_ids: torch.Tensor  # int64 [B, L]
    labels: torch.Tensor  # int64 [B, L]
    teacher_loss: torch.Tensor  # float32 [B, L], NaN where unmapped


@dataclass
class StepStats:
    """Global (all ranks) statistics of one step."""

    loss: float  # the objective: mean student loss over selected targets
    cross_entropy: float  # mean student loss over every target
    targets: int
    kept: int
    mapped: int
    excess_sum: float  # over mapped targets

    @property
    def kept_share(self) -> float:
        return self.kept / self.targets

    @property
    def teacher_coverage(self) -> float:
        return self.mapped / self.targets

    @property
    def mean_excess(self) -> float | None:
        return self.excess_sum / self.mapped if self.mapped else None


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    if _distributed():
        dist.all_reduce(tensor)
    return tensor.tolist()


def _sequence_scope_count(batch: MicroBatch, guided: GuidedLossConfig) -> int:
    """Count what `select_sequence` keeps, from the teacher losses alone, before any forward pass."""
    mapped = ~torch.isnan(batch.teacher_loss)
    kept = sum(keep_count(int(count), guided.keep_ratio) for count in mapped.sum(dim=1).tolist())
    if guided.unmapped == "include":
        kept += int((~mapped).sum())
    return kept


def run_step(
    model: torch.nn.Module,
    micro_batches: list[MicroBatch],
    variant: str,
    guided: GuidedLossConfig,
    autocast: Callable[[], contextlib.AbstractContextManager],
    no_sync: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> StepStats:
    """Run forward and backward over this rank's micro-batches; gradients accumulate in `model`.

    `no_sync` suppresses the data-parallel gradient reduction on all but the last micro-batch.
    """
    device = micro_batches[0].input_ids.device
    world_size = dist.get_world_size() if _distributed() else 1
    is_guided = variant == "guided"

    def forward(batch: MicroBatch) -> torch.Tensor:
        with autocast():
            logits = model(input_ids=batch.input_ids).logits
        return token_cross_entropy(logits, batch.labels)

    def statistics(token_loss: torch.Tensor, batch: MicroBatch, selected: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            detached = token_loss.detach().double()
            valid = batch.labels != IGNORE_INDEX
            mapped = ~torch.isnan(batch.teacher_loss)
            excess = excess_loss(token_loss, batch.teacher_loss).double()
            return torch.stack(
                [
                    torch.where(selected, detached, 0.0).sum(),
                    torch.where(valid, detached, 0.0).sum(),
                    valid.sum().double(),
                    mapped.sum().double(),
                    torch.where(mapped, excess, 0.0).sum(),
                ]
            )

    totals = torch.zeros(5, dtype=torch.float64, device=device)
    last = len(micro_batches) - 1

    # Batch scope over several micro-batches with retained graphs: forward all, select, one backward.
    if is_guided and guided.scope == "batch" and last > 0 and guided.accumulation == "retain":
        token_losses = []
        for index, batch in enumerate(micro_batches):
            with contextlib.nullcontext() if index == last else no_sync():
                token_losses.append(forward(batch))
        excess_parts = [
            excess_loss(loss, batch.teacher_loss)
            for loss, batch in zip(token_losses, micro_batches, strict=True)
        ]
        masks = select_batch(excess_parts, guided.keep_ratio, guided.unmapped)
        selected_global = _all_reduce_sum([sum(int(mask.sum()) for mask in masks)], device)[0]
        total = sum(
            selected_mean_loss(loss, mask, selected_global)
            for loss, mask in zip(token_losses, masks, strict=True)
        )
        (total * world_size).backward()
        for loss, batch, mask in zip(token_losses, micro_batches, masks, strict=True):
            totals += statistics(loss, batch, mask)
        return _global_stats(totals, selected_global, device)

    # Phase 1: the global number of selected targets, which every micro-batch's loss divides by.
    precomputed_masks: list[torch.Tensor] | None = None
    selected_global: float | None = None
    if not is_guided:
        local = sum(int((batch.labels != IGNORE_INDEX).sum()) for batch in micro_batches)
        selected_global = _all_reduce_sum([local], device)[0]
    elif guided.scope == "sequence":
        local = sum(_sequence_scope_count(batch, guided) for batch in micro_batches)
        selected_global = _all_reduce_sum([local], device)[0]
    elif last > 0:
        # The batch threshold needs every micro-batch's excess before the first backward pass:
        # an extra forward pass without gradient costs about a third of a step.
        with torch.no_grad():
            excess_parts = [excess_loss(forward(batch), batch.teacher_loss) for batch in micro_batches]
        precomputed_masks = select_batch(excess_parts, guided.keep_ratio, guided.unmapped)
        local = sum(int(mask.sum()) for mask in precomputed_masks)
        selected_global = _all_reduce_sum([local], device)[0]

    # Phase 2: forward with gradient, select, backward, one micro-batch at a time.
    for index, batch in enumerate(micro_batches):
        with contextlib.nullcontext() if index == last else no_sync():
            token_loss = forward(batch)
            excess = excess_loss(token_loss, batch.teacher_loss)
            if not is_guided:
                selected = batch.labels != IGNORE_INDEX
            elif guided.scope == "sequence":
                selected = select_sequence(excess, guided.keep_ratio, guided.unmapped)
            elif precomputed_masks is not None:
                selected = precomputed_masks[index]
            else:
                selected = select_batch([excess], guided.keep_ratio, guided.unmapped)[0]
                selected_global = _all_reduce_sum([int(selected.sum())], device)[0]
            assert selected_global is not None
            loss = selected_mean_loss(token_loss, selected, selected_global) * world_size
            loss.backward()
        totals += statistics(token_loss, batch, selected)

    assert selected_global is not None
    return _global_stats(totals, selected_global, device)


def _global_stats(totals: torch.Tensor, selected_global: float, device: torch.device) -> StepStats:
    selected_sum, loss_sum, targets, mapped_count, excess_sum = _all_reduce_sum(totals.tolist(), device)
    return StepStats(
        loss=selected_sum / selected_global,
        cross_entropy=loss_sum / targets,
        targets=int(targets),
        kept=int(selected_global),
        mapped=int(mapped_count),
        excess_sum=excess_sum,
    )
