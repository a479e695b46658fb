"""Optimizers and learning-rate schedules with torch.optim's names and update rules."""
from minigrad.optim import lr_scheduler
from minigrad.optim.adam import Adam, AdamW, RMSprop
from minigrad.optim.optimizer import Optimizer
from minigrad.optim.sgd import SGD

__all__ = ["lr_scheduler", "Adam", "AdamW", "RMSprop", "Optimizer", "SGD"]
