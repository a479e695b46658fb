"""DistributedDataParallel: every rank trains a replica on its share of the batch; backward() averages the
gradients over the ranks, so every replica takes the same step.

Gradients are reduced in buckets, as PyTorch's DDP does: parameters are grouped in reverse registration order
(roughly the order backward produces their gradients) into buckets of at most bucket_cap_mb; a hook on each
parameter marks it ready once its gradient is accumulated, and when a bucket is complete it is copied into one
flat buffer and a non-blocking MPI Iallreduce starts on it. Buckets start strictly in index order, the same on
every rank (MPI needs that), and backward() returns only after all of them have finished.
"""
import contextlib

import numpy as np

from minigrad import distributed
from minigrad.autograd.engine import queue_callback
from minigrad.autograd.grad_mode import is_grad_enabled, no_grad
from minigrad.creation import from_numpy
from minigrad.nn.module import Module


class _Bucket:
    def __init__(self, params):
        self.params = params
        self.buffer = None
        self.request = None
        self.waiting = len(params)


class DistributedDataParallel(Module):
    """Wrap `module` after init_process_group; construction copies rank 0's parameters and buffers to all."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=25, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a minigrad.nn.Module, got "
                            f"{type(module).__name__}")
        if bucket_cap_mb is None:
            bucket_cap_mb = 25
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be > 0, got {bucket_cap_mb}")
        self.module = module
        self.broadcast_buffers, self.find_unused_parameters = broadcast_buffers, find_unused_parameters
        self.require_backward_grad_sync = True
        self._comm = distributed._communicator()
        self._named = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
        self._check_same_parameters()
        self._broadcast_state()
        self._buckets, self._bucket_of = self._make_buckets(bucket_cap_mb * 2 ** 20)
        self._ready = {}
        self._armed = self._callback_queued = False
        self._launched = 0
        self._hooks = [p.register_post_accumulate_grad_hook(self._on_grad_ready) for _, p in self._named]

    # --- construction --------------------------------------------------------------------------------
    def _check_same_parameters(self):
        """Every rank raises the same error, naming the first difference, instead of hanging in a collective."""
        mine = [(name, list(p.shape), str(p.dtype)) for name, p in self._named]
        every = self._comm.allgather(mine)  # once, at construction: small enough to pickle
        for rank, theirs in enumerate(every):
            if theirs == every[0]:
                continue
            for i in range(max(len(theirs), len(every[0]))):
                a = every[0][i] if i < len(every[0]) else "nothing"
                b = theirs[i] if i < len(theirs) else "nothing"
                if a != b:
                    raise RuntimeError(f"DistributedDataParallel: the models differ across ranks: parameter {i} is "
                                       f"{a} on rank 0 but {b} on rank {rank}; every rank must build the same model")

    def _broadcast_state(self):
        self._broadcast_coalesced([p for _, p in self._named] + [b for _, b in self.module.named_buffers()])

    def _broadcast_coalesced(self, tensors):
        """Rank 0's values into every rank's tensors: one MPI Bcast per dtype, however many tensors."""
        for dtype in dict.fromkeys(t.dtype for t in tensors):  # the same order on every rank
            group = [t for t in tensors if t.dtype is dtype]
            flat = np.concatenate([t.detach().cpu().numpy().ravel() for t in group])
            self._comm.Bcast(flat, root=0)
            offset = 0
            with no_grad():
                for t in group:
                    t.copy_(from_numpy(flat[offset:offset + t.numel()].reshape(t.shape)))
                    offset += t.numel()

    def _make_buckets(self, cap_bytes):
        buckets, current, size = [], [], 0
        for _, p in reversed(self._named):
            nbytes = p.numel() * p.dtype.itemsize
            if current and (size + nbytes > cap_bytes or p.dtype is not current[0].dtype
                            or p.device != current[0].device):
                buckets.append(_Bucket(current))
                current, size = [], 0
            current.append(p)
            size += nbytes
        if current:
            buckets.append(_Bucket(current))
        return buckets, {id(p): bucket for bucket in buckets for p in bucket.params}

    # --- forward and the reduction ---------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        if self.broadcast_buffers and self.training:
            self._broadcast_coalesced([b for _, b in self.module.named_buffers()])
        self._armed = is_grad_enabled() and self.require_backward_grad_sync
        if self._armed:
            self._ready.clear()
            for bucket in self._buckets:
                bucket.waiting, bucket.request = len(bucket.params), None
            self._launched = 0
            self._callback_queued = False
        return self.module(*inputs, **kwargs)

    def _on_grad_ready(self, param):
        if not self._armed:
            return
        if not self._callback_queued:
            queue_callback(self._finish)
            self._callback_queued = True
        if id(param) in self._ready:
            return
        self._ready[id(param)] = True
        self._bucket_of[id(param)].waiting -= 1
        self._launch_complete_buckets()

    def _launch_complete_buckets(self):
        while self._launched < len(self._buckets) and self._buckets[self._launched].waiting == 0:
            bucket = self._buckets[self._launched]
            bucket.buffer = np.concatenate([self._grad_array(p).ravel() for p in bucket.params])
            bucket.request = self._comm.Iallreduce(distributed._mpi().IN_PLACE, bucket.buffer)
            self._launched += 1
        for bucket in self._buckets[:self._launched]:
            bucket.request.Test()  # lets MPI progress the reductions already started

    @staticmethod
    def _grad_array(param):
        if param.grad is None:
            return np.zeros(param.shape, dtype=param.dtype.numpy)
        return param.grad.detach().cpu().numpy()

    def _finish(self):
        self._armed = False
        unused = [name for name, p in self._named if id(p) not in self._ready]
        if unused and not self.find_unused_parameters:
            raise RuntimeError(
                f"DistributedDataParallel: parameters that were not used in producing the loss got no gradient on "
                f"rank {self._comm.Get_rank()}: {', '.join(unused)}. Pass find_unused_parameters=True to "
                "DistributedDataParallel to reduce zeros for them, or make sure every parameter takes part")
        used = np.array([id(p) in self._ready for _, p in self._named], dtype=np.int64)
        for bucket in self._buckets:
            bucket.waiting = 0
        self._launch_complete_buckets()
        if self.find_unused_parameters:  # a parameter that no rank used keeps grad None, as in PyTorch
            self._comm.Allreduce(distributed._mpi().IN_PLACE, used)
        distributed._mpi().Request.Waitall([bucket.request for bucket in self._buckets])
        world = self._comm.Get_size()
        is_used = {id(p): bool(u) for (_, p), u in zip(self._named, used)}
        for bucket in self._buckets:
            offset = 0
            for p in bucket.params:
                part = bucket.buffer[offset:offset + p.numel()].reshape(p.shape)
                offset += p.numel()
                if not is_used[id(p)]:
                    continue
                part /= world
                if p.grad is None:
                    p.grad = from_numpy(part).to(p.device)
                else:
                    with no_grad():
                        p.grad.copy_(from_numpy(part))

    # --- PyTorch's DDP API -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside accumulate gradients locally; the first one outside reduces the sum."""
        previous, self.require_backward_grad_sync = self.require_backward_grad_sync, False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """The wrapped module's state dict: a single-process model loads it as it is."""
        return self.module.state_dict(destination, prefix, keep_vars)

    def load_state_dict(self, state_dict, strict=True):
        """Loads the wrapped module's state dict (keys with PyTorch's "module." prefix are accepted too)."""
        if state_dict and all(key.startswith("module.") for key in state_dict):
            state_dict = {key[len("module."):]: value for key, value in state_dict.items()}
        return self.module.load_state_dict(state_dict, strict)
