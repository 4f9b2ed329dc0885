"""Command line: `python -m vocagno_trainer --run RUN_URI --variant guided|baseline [--config JSON|FILE]`.

Multi-GPU and multi-node: `torchrun --nproc-per-node 8 -m vocagno_trainer --run-uri RUN_URI ...`.

Exit status: 0 when the run completed (or stopped at --stop-at-step), 143 after
SIGTERM once a complete checkpoint is saved (restart the same command to
resume), 2 on an invalid config or command line.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import tempfile
from pathlib import Path

import torch.distributed as dist

from .config import ConfigError, load_config_argument
from .data import ShardError
from .train import VARIANTS, train

EXIT_INTERRUPTED = 143
EXIT_INVALID = 2

log = logging.getLogger("vocagno_trainer")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vocagno_trainer", description=__doc__.split("\n")[0])
    # torchrun's own parser takes `--run` for an abbreviation of its `--run-path`, so under torchrun
    # pass the same value as `--run-uri`.
    parser.add_argument(
        "--run",
        "--run-uri",
        dest="run",
        required=True,
        help="run URI: runs/<runId> as a local path, file:// or s3:// URI (--run-uri under torchrun)",
    )
    parser.add_argument(
        "--variant", required=True, choices=VARIANTS, help="loss: teacher guided or plain baseline"
    )
    parser.add_argument(
        "--config",
        help="trainer config as inline JSON or a JSON file; required for a new run, optional on resume "
        "(it must then match the checkpoint's run fields)",
    )
    parser.add_argument(
        "--scratch",
        type=Path,
        help="local directory for downloads and staging, kept afterwards "
        "(default: a new temporary directory, removed when the trainer exits)",
    )
    parser.add_argument(
        "--stop-at-step",
        type=int,
        help="save a checkpoint and exit at this optimizer step, to split a run into stages",
    )
    arguments = parser.parse_args(argv)

    try:
        requested = load_config_argument(arguments.config) if arguments.config else None
        with contextlib.ExitStack() as cleanup:
            scratch = arguments.scratch or Path(
                cleanup.enter_context(tempfile.TemporaryDirectory(prefix="vocagno-trainer-"))
            )
            result = train(arguments.run, arguments.variant, requested, scratch, arguments.stop_at_step)
    except (ConfigError, ShardError) as error:
        logging.basicConfig()
        log.error("%s", error)
        return EXIT_INVALID
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return EXIT_INTERRUPTED if result.status == "interrupted" else 0


if __name__ == "__main__":
    sys.exit(main())
