"""A small shared training loop: warm-up, gradient clipping, stop requests, metrics."""

from runtime.training.loop import TrainReport, lr_factor, train_steps, warmup_factor

__all__ = ["TrainReport", "lr_factor", "train_steps", "warmup_factor"]
