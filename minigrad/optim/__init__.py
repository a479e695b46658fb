"""Optimizers and learning-rate schedules with torch.optim's names and update rules."""
from minigrad.optim import lr_scheduler
from minigrad.optim.adadelta import Adadelta
from minigrad.optim.adagrad import Adagrad
from minigrad.optim.adam import Adam, AdamW, RMSprop
from minigrad.optim.nadam import NAdam, RAdam
from minigrad.optim.optimizer import Optimizer
from minigrad.optim.sgd import SGD

__all__ = ["lr_scheduler", "Adadelta", "Adagrad", "Adam", "AdamW", "NAdam", "RAdam", "RMSprop", "Optimizer", "SGD"]
