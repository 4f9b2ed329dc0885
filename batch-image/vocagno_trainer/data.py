"""Stream a run's documents and pack them into fixed-length training sequences.

Documents are concatenated as `[BOS] ids EOS [BOS] ids EOS ...` (BOS only when
the student's tokenizer adds one) and cut into windows of `sequence_length + 1`
tokens that overlap by one token. Window `w` gives `input_ids = w[:-1]` and
`labels = w[1:]`, and `teacher_loss` is shifted with the labels: position `p`
contains the teacher loss of the token that position `p` predicts. Separators
carry NaN, which marks them unmapped.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np

from vocagno_data.shards import ShardFormatError, read_shard, read_teacher_scores
from vocagno_data.storage import ObjectNotFoundError

from . import storage

log = logging.getLogger(__name__)

# Label value that the loss skips: only eval's last, padded window uses it.
IGNORE_INDEX = -100


class ShardError(ValueError):
    """A shard, teacher file or manifest that breaks the shard format contract."""


@dataclass(frozen=True)
class Separators:
    """Special tokens the trainer puts around each document; None where the student has none."""

    bos_token_id: int | None
    eos_token_id: int


@dataclass
class Document:
    student_ids: np.ndarray  # int32 [n]
    teacher_loss: np.ndarray  # float32 [n], NaN where unmapped


@dataclass
class PackedBatch:
    input_ids: np.ndarray  # int64 [B, L]
    labels: np.ndarray  # int64 [B, L], IGNORE_INDEX on padding
    teacher_loss: np.ndarray  # float32 [B, L], NaN where the target is unmapped


@dataclass
class DataPosition:
    """Start of the next training window: token `offset` of document `document` of the item
    at `item_index` in epoch `epoch`'s item order (offsets count the BOS and EOS)."""

    epoch: int = 0
    item_index: int = 0
    document: int = 0
    offset: int = 0
    sequences: int = 0  # windows produced so far, for logs and checks


def read_manifest(run_uri: str) -> dict[str, list[str]]:
    """Return the manifest's item ids by split ("train", "eval"), in manifest order."""
    uri = storage.join(run_uri, "manifest.json")
    try:
        manifest = json.loads(storage.read_bytes(uri))
    except FileNotFoundError:
        raise ShardError(f"run manifest not found: {uri}; run the plan step first") from None
    if manifest.get("formatVersion") != 1:
        raise ShardError(f"{uri}: unsupported formatVersion {manifest.get('formatVersion')!r}; expected 1")
    splits: dict[str, list[str]] = {"train": [], "eval": []}
    for number, entry in enumerate(manifest.get("items", [])):
        split = entry.get("split")
        if split not in splits:
            raise ShardError(f"{uri}: items[{number}].split is {split!r}; expected 'train' or 'eval'")
        splits[split].append(str(entry["item"]))
    return splits


def read_item(run_uri: str, item: str, with_teacher: bool) -> list[Document]:
    """Read one work item's documents; without teacher scores every token is unmapped."""
    shard_uri = storage.join(run_uri, "shards", f"{item}.arrow")
    try:
        shard = read_shard(shard_uri)
        if not with_teacher:
            return [
                Document(document.student_ids, np.full(len(document.student_ids), math.nan, np.float32))
                for document in shard.documents
            ]
        teacher_uri = storage.join(run_uri, "teacher", f"{item}.arrow")
        scores = read_teacher_scores(teacher_uri)
    except (ShardFormatError, ObjectNotFoundError) as error:
        raise ShardError(f"{error}; re-run the step that writes it") from error

    if [document.id for document in shard.documents] != [document.id for document in scores.documents]:
        raise ShardError(f"{teacher_uri}: document ids differ from {shard_uri}; re-run teacher scoring")
    documents = []
    for row, (document, losses) in enumerate(zip(shard.documents, scores.documents, strict=True)):
        if len(document.student_ids) != len(losses.student_teacher_loss):
            raise ShardError(
                f"{teacher_uri}: row {row} has {len(losses.student_teacher_loss)} student teacher losses for "
                f"{len(document.student_ids)} student tokens; re-run teacher scoring for this item"
            )
        documents.append(Document(document.student_ids, losses.student_teacher_loss))
    return documents


def _document_stream(document: Document, separators: Separators) -> tuple[np.ndarray, np.ndarray]:
    ids = [document.student_ids]
    losses = [document.teacher_loss]
    if separators.bos_token_id is not None:
        ids.insert(0, np.array([separators.bos_token_id], np.int32))
        losses.insert(0, np.array([math.nan], np.float32))
    ids.append(np.array([separators.eos_token_id], np.int32))
    losses.append(np.array([math.nan], np.float32))
    return np.concatenate(ids), np.concatenate(losses)


@dataclass
class _Segment:
    """Part of the packing buffer that came from one document, with its coordinates."""

    epoch: int
    item_index: int
    document: int
    offset: int
    length: int


@dataclass
class SequencePacker:
    """Deterministic, resumable stream of packed training windows over the train items."""

    run_uri: str
    items: list[str]
    separators: Separators
    sequence_length: int
    with_teacher: bool
    seed: int
    shuffle_items: bool
    position: DataPosition = field(default_factory=DataPosition)

    def __post_init__(self) -> None:
        if not self.items:
            raise ShardError(f"{self.run_uri}/manifest.json: no items of split 'train'")
        self._windows = self._generate()

    def item_order(self, epoch: int) -> list[str]:
        if not self.shuffle_items:
            return list(self.items)
        permutation = np.random.default_rng([self.seed, epoch]).permutation(len(self.items))
        return [self.items[index] for index in permutation]

    def _documents_from(self, start: DataPosition) -> Iterator[tuple[_Segment, np.ndarray, np.ndarray]]:
        epoch, item_index, document, offset = start.epoch, start.item_index, start.document, start.offset
        while True:
            order = self.item_order(epoch)
            while item_index < len(order):
                documents = read_item(self.run_uri, order[item_index], self.with_teacher)
                while document < len(documents):
                    ids, losses = _document_stream(documents[document], self.separators)
                    segment = _Segment(epoch, item_index, document, offset, len(ids) - offset)
                    yield segment, ids[offset:], losses[offset:]
                    document += 1
                    offset = 0
                item_index += 1
                document = 0
            epoch += 1
            item_index = 0
            log.info("train split finished; starting epoch %d", epoch)

    def _generate(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        window = self.sequence_length + 1
        ids_buffer = np.empty(0, np.int32)
        loss_buffer = np.empty(0, np.float32)
        segments: list[_Segment] = []
        produced = self.position.sequences
        for segment, ids, losses in self._documents_from(self.position):
            ids_buffer = np.concatenate([ids_buffer, ids])
            loss_buffer = np.concatenate([loss_buffer, losses])
            segments.append(segment)
            while len(ids_buffer) >= window:
                window_ids, window_losses = ids_buffer[:window], loss_buffer[:window]
                # Consecutive windows overlap by one token: the last input of one is the
                # first input of the next, so every token after the first is a target once.
                ids_buffer = ids_buffer[self.sequence_length :]
                loss_buffer = loss_buffer[self.sequence_length :]
                consumed = self.sequence_length
                while consumed >= segments[0].length:
                    consumed -= segments[0].length
                    segments.pop(0)
                head = segments[0]
                head.offset += consumed
                head.length -= consumed
                produced += 1
                self.position = DataPosition(
                    head.epoch, head.item_index, head.document, head.offset, produced
                )
                yield window_ids, window_losses

    def next_batch(self, sequences: int) -> PackedBatch:
        """Return the next `sequences` windows as input ids, labels and target teacher losses."""
        windows = [next(self._windows) for _ in range(sequences)]
        ids = np.stack([item[0] for item in windows]).astype(np.int64)
        losses = np.stack([item[1] for item in windows])
        # [S, L+1] -> inputs [S, L], targets [S, L]
        return PackedBatch(input_ids=ids[:, :-1], labels=ids[:, 1:], teacher_loss=losses[:, 1:])

    def state_dict(self) -> dict[str, int]:
        return asdict(self.position)


def packed_eval_batches(
    run_uri: str,
    items: list[str],
    separators: Separators,
    sequence_length: int,
    max_sequences: int | None,
) -> list[PackedBatch]:
    """Pack the eval split in manifest order, one window per batch; the last window is padded."""
    if not items:
        raise ShardError(f"{run_uri}/manifest.json: no items of split 'eval' for the held-out evaluation")
    stream = [
        _document_stream(doc, separators)[0] for item in items for doc in read_item(run_uri, item, False)
    ]
    tokens = np.concatenate(stream).astype(np.int64)
    batches = []
    for start in range(0, len(tokens) - 1, sequence_length):
        if max_sequences is not None and len(batches) >= max_sequences:
            break
        window = tokens[start : start + sequence_length + 1]
        labels = np.full(sequence_length, IGNORE_INDEX, np.int64)
        labels[: len(window) - 1] = window[1:]
        inputs = np.full(sequence_length, separators.eos_token_id, np.int64)
        inputs[: len(window) - 1] = window[:-1]
        batches.append(
            PackedBatch(inputs[None], labels[None], np.full((1, sequence_length), math.nan, np.float32))
        )
    return batches
