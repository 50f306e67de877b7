"""A small shared training loop: warm-up, gradient clipping, stop requests, metrics."""

from runtime.training.loop import TrainReport, train_steps, warmup_factor

__all__ = ["TrainReport", "train_steps", "warmup_factor"]
