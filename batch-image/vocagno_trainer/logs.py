"""Standard logging with the run id, variant and step on every line."""

from __future__ import annotations

import logging
import sys

_context = {"runId": "-", "variant": "-", "step": "-", "rank": "0"}


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.items():
            setattr(record, key, value)
        return True


def configure_logging(run_id: str, variant: str, rank: int, level: int = logging.INFO) -> None:
    """Send `vocagno_trainer` logs to stderr as `key=value` lines; ranks other than 0 log warnings only."""
    _context.update(runId=run_id, variant=variant, rank=str(rank))
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter())
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s runId=%(runId)s variant=%(variant)s "
            "step=%(step)s rank=%(rank)s %(message)s"
        )
    )
    logger = logging.getLogger("vocagno_trainer")
    logger.handlers[:] = [handler]
    logger.setLevel(level if rank == 0 else logging.WARNING)
    logger.propagate = False


def set_step(step: int) -> None:
    _context["step"] = str(step)
