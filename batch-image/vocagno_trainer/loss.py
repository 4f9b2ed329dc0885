"""Teacher guided token selection and the training objective.

Shapes: `B` sequences, `L` target positions, `V` vocabulary entries. Position
`p` of `labels` and `teacher_loss` describes the token that the logits at input
position `p` predict (input token `p + 1` of the packed window), so the shift is
done once, in packing, and never here.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F


def token_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Return the per-target cross-entropy in nats, float32, shape [B, L]."""
    batch, length, vocab = logits.shape
    # [B, L, V] -> [B*L, V]; upcast so bf16 logits do not round the loss.
    flat = F.cross_entropy(logits.float().reshape(-1, vocab), labels.reshape(-1), reduction="none")
    return flat.view(batch, length)


def excess_loss(token_loss: torch.Tensor, teacher_loss: torch.Tensor) -> torch.Tensor:
    """Return student loss minus teacher loss without gradient; NaN where the target is unmapped."""
    return token_loss.detach().float() - teacher_loss.float()


def keep_count(mapped_tokens: int, keep_ratio: float) -> int:
    """Number of mapped tokens kept: keep_ratio × mapped_tokens rounded half up, at least one if any."""
    if mapped_tokens == 0:
        return 0
    # The epsilon absorbs binary rounding such as 0.7 * 10 = 7.000000000000001.
    kept = math.floor(keep_ratio * mapped_tokens + 0.5 + 1e-9)
    return min(mapped_tokens, max(1, kept))


def _unmapped_mask(excess: torch.Tensor, unmapped: str) -> torch.Tensor:
    if unmapped == "include":
        return torch.isnan(excess)
    return torch.zeros_like(excess, dtype=torch.bool)


def select_sequence(excess: torch.Tensor, keep_ratio: float, unmapped: str) -> torch.Tensor:
    """Select the top keep_ratio of mapped targets within each sequence (ties go to earlier positions).

    `excess` is [B, L] with NaN for unmapped targets; returns a bool mask [B, L].
    """
    mapped = ~torch.isnan(excess)
    # Unmapped targets rank last; a stable descending sort breaks ties by position.
    ranking_values = torch.where(mapped, excess, torch.full_like(excess, -math.inf))
    order = torch.sort(ranking_values, dim=1, descending=True, stable=True).indices
    rank = torch.empty_like(order)
    positions = torch.arange(excess.shape[1], device=excess.device).expand_as(order)
    rank.scatter_(1, order, positions)
    kept_per_sequence = torch.tensor(
        [keep_count(int(count), keep_ratio) for count in mapped.sum(dim=1).tolist()],
        device=excess.device,
    )
    selected = mapped & (rank < kept_per_sequence[:, None])
    return selected | _unmapped_mask(excess, unmapped)


def _gather_flat(values: torch.Tensor, group: dist.ProcessGroup | None) -> list[torch.Tensor]:
    """All-gather 1-D tensors of different lengths; returns one tensor per rank in rank order."""
    if group is None and not (dist.is_available() and dist.is_initialized()):
        return [values]
    world = dist.get_world_size(group)
    length = torch.tensor([values.numel()], device=values.device, dtype=torch.long)
    lengths = [torch.zeros_like(length) for _ in range(world)]
    dist.all_gather(lengths, length, group=group)
    longest = int(max(int(item) for item in lengths))
    padded = torch.full((longest,), math.nan, device=values.device, dtype=values.dtype)
    padded[: values.numel()] = values
    gathered = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(gathered, padded, group=group)
    return [tensor[: int(size)] for tensor, size in zip(gathered, lengths, strict=True)]


def select_batch(
    excess_parts: list[torch.Tensor],
    keep_ratio: float,
    unmapped: str,
    group: dist.ProcessGroup | None = None,
) -> list[torch.Tensor]:
    """Select the top keep_ratio of mapped targets across the whole global batch.

    `excess_parts` are this rank's micro-batches ([B, L] each, NaN when unmapped).
    Every rank receives the excess of every other rank, so all ranks agree on the
    k-th largest value; ties at it go to earlier ranks, micro-batches and
    positions, so exactly k mapped targets are kept. Returns one mask per part.
    """
    local = torch.cat([part.reshape(-1) for part in excess_parts])
    per_rank = _gather_flat(local, group)
    rank = dist.get_rank(group) if len(per_rank) > 1 else 0

    mapped_values = torch.cat([values[~torch.isnan(values)] for values in per_rank])
    kept = keep_count(mapped_values.numel(), keep_ratio)
    local_mapped = ~torch.isnan(local)
    if kept == 0:
        local_selected = torch.zeros_like(local_mapped)
    else:
        # The k-th largest is the (n - k + 1)-th smallest.
        threshold = torch.kthvalue(mapped_values, mapped_values.numel() - kept + 1).values
        above_count = int((mapped_values > threshold).sum())
        ties_needed = kept - above_count
        ties_before = sum(int((values == threshold).sum()) for values in per_rank[:rank])
        local_ties = local_mapped & (local == threshold)
        tie_index = torch.cumsum(local_ties.long(), dim=0) - 1 + ties_before
        local_selected = (local_mapped & (local > threshold)) | (local_ties & (tie_index < ties_needed))

    local_selected = local_selected | _unmapped_mask(local, unmapped)
    masks = []
    offset = 0
    for part in excess_parts:
        masks.append(local_selected[offset : offset + part.numel()].view_as(part))
        offset += part.numel()
    return masks


def selected_mean_loss(token_loss: torch.Tensor, selected: torch.Tensor, normalizer: float) -> torch.Tensor:
    """Return sum(token_loss over selected targets) / normalizer, the share of the global mean."""
    return torch.where(selected, token_loss, torch.zeros_like(token_loss)).sum() / normalizer
