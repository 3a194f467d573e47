"""What a run prints: messages a user cannot act on are dropped here, each with its reason, so that the first
screen of a run shows the run (tests/test_console_and_plots.py reads a default run's first 30 lines)."""
import logging
import warnings

# (message pattern, why it is not worth a user's attention)
IGNORED_WARNINGS = [
    (r".*isinstance\(treespec, LeafSpec\).*", "Lightning's own use of a torch API deprecated in torch 2.9+"),
    # gan_zoo never logs with sync_dist: its epoch-level values are the same on every process (images/s counts
    # all of them; metrics are broadcast), and a lazy sync is a collective that only rank 0's progress bar
    # enters, which deadlocked DDP. Every collective is explicit, in a hook that every process runs.
    (r".*when logging on epoch level in distributed setting.*", "values equal on every process; see above"),
    (r".*torch.distributed.nn.functional.all_gather is deprecated.*", "Lightning's all_gather, not ours"),
    (r".*will save all extracted features in buffer.*", "torchmetrics on features gan_zoo extracts itself, bounded N"),
    (r".*your dataloader is not resumable.*", "gan_zoo's sampler resumes mid-epoch exactly (data/sampler.py)"),
    (r".*is smaller than the logging interval.*", "gan_zoo lowers the interval to the epoch's (callbacks.LogEveryEpoch)"),
]
IGNORED_LOG_LINES = [
    "litlogger",  # Lightning's advertisement for its cloud logger
    "Skipping setting a default `ModelSummary`",  # a ModelSummary callback a user adds is the one that prints
]


class _DropLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not any(text in record.getMessage() for text in IGNORED_LOG_LINES)


def quiet() -> None:
    """Install the filters (idempotent)."""
    for pattern, _ in IGNORED_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropLines) for f in logger.filters):
            logger.addFilter(_DropLines())
