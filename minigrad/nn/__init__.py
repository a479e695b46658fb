"""Neural-network layers with PyTorch's names; `minigrad.nn.functional` holds the stateless functions."""
from minigrad.nn import functional, init, parallel, utils
from minigrad.nn.activation import (GELU, Hardswish, LeakyReLU, LogSoftmax, Mish, ReLU, Sigmoid, SiLU, Softmax,
                                   Tanh)
from minigrad.nn.layers import (Conv1d, Conv2d, Conv3d, ConvTranspose2d, Dropout, Embedding, Flatten, Identity,
                                LazyConv2d, LazyLinear, Linear, Unflatten, Upsample, UpsamplingBilinear2d,
                                UpsamplingNearest2d)
from minigrad.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from minigrad.nn.module import Module, ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from minigrad.nn.normalization import (BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d, LayerNorm,
                                       LazyBatchNorm1d, LazyBatchNorm2d)
from minigrad.nn.parameter import Parameter
from minigrad.nn.pooling import (AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool1d, AvgPool2d, ConstantPad1d,
                                 ConstantPad2d, MaxPool1d, MaxPool2d, ReflectionPad1d, ReflectionPad2d,
                                 ReplicationPad1d, ReplicationPad2d, ZeroPad2d)

__all__ = ["functional", "init", "GELU", "LeakyReLU", "LogSoftmax", "ReLU", "Sigmoid", "Softmax", "Tanh", "Conv1d",
           "Conv2d", "Conv3d", "ConvTranspose2d", "Dropout", "Flatten", "Identity", "LazyConv2d", "LazyLinear",
           "Linear", "Unflatten", "BCEWithLogitsLoss", "CrossEntropyLoss", "L1Loss", "MSELoss", "NLLLoss", "Module",
           "ModuleDict", "ParameterDict", "ParameterList", "ModuleList", "Sequential", "BatchNorm1d", "BatchNorm2d",
           "LayerNorm", "LazyBatchNorm1d", "LazyBatchNorm2d",
           "Parameter", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AvgPool1d", "AvgPool2d",
           "ConstantPad1d", "ConstantPad2d", "MaxPool1d", "MaxPool2d", "ReflectionPad1d", "ReflectionPad2d",
           "ReplicationPad1d", "ReplicationPad2d", "ZeroPad2d", "utils", "parallel", "SiLU", "Mish", "Hardswish",
           "Embedding", "GroupNorm", "InstanceNorm2d", "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]
