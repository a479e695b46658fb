"""Run under `mpiexec -n N python tests/distributed_worker.py SCENARIO ...` by tests/test_distributed.py.

Each scenario asserts on every rank; rank 0 prints "ok SCENARIO" when it passed everywhere. An assertion
that fails on any rank ends the whole job non-zero (init_process_group's excepthook)."""
import contextlib
import sys

import numpy as np

import minigrad as torch
import minigrad.distributed as dist
from minigrad import nn
from minigrad.nn.parallel import DistributedDataParallel as DDP


def same_on_every_rank(array):
    gathered = np.empty((dist.get_world_size(),) + array.shape, dtype=array.dtype)
    dist._communicator().Allgather(np.ascontiguousarray(array), gathered)
    return all(np.array_equal(g, gathered[0]) for g in gathered)


@contextlib.contextmanager
def raises(kind, text):
    try:
        yield
    except kind as error:
        assert text in str(error), f"{text!r} not in {error}"
    else:
        raise AssertionError(f"expected {kind.__name__} containing {text!r}")


def collectives():
    rank, world = dist.get_rank(), dist.get_world_size()
    values = np.arange(1, 5)
    for dtype in (torch.float16, torch.float32, torch.float64, torch.uint8, torch.int8, torch.int16, torch.int32,
                  torch.int64):
        for op, expected in ((dist.ReduceOp.SUM, sum(values * (r + 1) for r in range(world))),
                             (dist.ReduceOp.PRODUCT, np.prod([values * (r + 1) for r in range(world)], axis=0)),
                             (dist.ReduceOp.MIN, values), (dist.ReduceOp.MAX, values * world)):
            t = torch.tensor(values * (rank + 1), dtype=dtype)
            dist.all_reduce(t, op=op)
            assert t.dtype is dtype and np.array_equal(t.numpy(), expected), (dtype, op, t)
    t = torch.tensor(values * (rank + 1), dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    np.testing.assert_allclose(t.numpy(), values * (world + 1) / 2)
    flags = torch.tensor([rank == 0, True, False])
    dist.all_reduce(flags)  # bool: SUM and MAX are "or", MIN and PRODUCT "and"
    assert flags.tolist() == [True, True, False]
    flags = torch.tensor([rank == 0, True, False])
    dist.all_reduce(flags, op=dist.ReduceOp.MIN)
    assert flags.tolist() == [world == 1, True, False]
    with raises(TypeError, "AVG needs a floating point tensor"):
        dist.all_reduce(torch.tensor([1, 2]), op=dist.ReduceOp.AVG)

    src = world - 1
    t = torch.full((2, 3), float(rank))
    dist.broadcast(t, src=src)
    assert (t.numpy() == src).all()
    gathered = [torch.zeros(2, dtype=torch.int64) for _ in range(world)]
    dist.all_gather(gathered, torch.tensor([rank, 10 * rank]))
    assert [g.tolist() for g in gathered] == [[r, 10 * r] for r in range(world)]
    t = torch.tensor([float(rank + 1)])
    dist.reduce(t, dst=src)
    assert t.item() == (sum(range(1, world + 1)) if rank == src else rank + 1)

    with raises(ValueError, "must be contiguous"):
        dist.all_reduce(torch.ones(3, 4).t())
    with raises(RuntimeError, "every rank must pass the same shape"):
        dist.all_reduce(torch.ones(2 + rank))
    with raises(ValueError, "src must be a rank"):
        dist.broadcast(torch.ones(1), src=world)
    with raises(ValueError, "tensor_list must be a list of world_size"):
        dist.all_gather([torch.ones(1)] * (world + 1), torch.ones(1))


def conv_net():
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(3 * 4 * 4, 8), nn.Tanh(), nn.Linear(8, 4))


def equivalence():
    """PyTorch's DDP test: N ranks on their slices of a batch take the same steps as one process on all of it."""
    rank, world = dist.get_rank(), dist.get_world_size()
    for dtype, tolerance in ((torch.float64, 1e-9), (torch.float32, 1e-5)):
        for make_optimizer in (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
                               lambda p: torch.optim.Adam(p, lr=0.01)):
            torch.manual_seed(100 + rank)  # different weights on every rank: DDP must broadcast rank 0's
            ddp = DDP(conv_net().to(dtype), bucket_cap_mb=0.0005)  # small buckets: several reductions
            assert len(ddp._buckets) > 1
            single = conv_net().to(dtype)
            single.load_state_dict(ddp.state_dict())
            ddp_optimizer, single_optimizer = make_optimizer(ddp.parameters()), make_optimizer(single.parameters())
            data = np.random.default_rng(7)
            for _ in range(4):
                x = torch.tensor(data.standard_normal((4 * world, 1, 8, 8)), dtype=dtype)
                y = torch.tensor(data.integers(0, 4, 4 * world))
                for model, optimizer, (xs, ys) in ((ddp, ddp_optimizer, (x[4 * rank:4 * rank + 4],
                                                                         y[4 * rank:4 * rank + 4])),
                                                   (single, single_optimizer, (x, y))):
                    optimizer.zero_grad()
                    nn.functional.cross_entropy(model(xs), ys).backward()
                    optimizer.step()
                for (name, p), q in zip(ddp.module.named_parameters(), single.parameters()):
                    np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=tolerance,
                                               atol=tolerance, err_msg=name)
                    assert same_on_every_rank(p.detach().numpy()), f"{name} differs across ranks"


def no_sync():
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(rank)
    ddp = DDP(nn.Linear(3, 2).double())
    inputs = [torch.tensor(np.random.default_rng(10 * r + k).standard_normal((5, 3))) for r in range(world)
              for k in range(2)]
    with ddp.no_sync():
        ddp(inputs[2 * rank]).sum().backward()
    local = ddp.module.weight.grad.numpy().copy()
    assert world == 1 or not same_on_every_rank(local), "no_sync must not reduce"
    ddp(inputs[2 * rank + 1]).sum().backward()
    reference = nn.Linear(3, 2).double()
    reference.load_state_dict(ddp.state_dict())
    for x in inputs:
        reference(x).sum().backward()
    np.testing.assert_allclose(ddp.module.weight.grad.numpy(), reference.weight.grad.numpy() / world, rtol=1e-12)


def buffers():
    rank = dist.get_rank()
    ddp = DDP(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)))
    with torch.no_grad():
        ddp.module[1].running_mean.fill_(float(rank))  # drifted apart; rank 0's must win at each forward
    ddp(torch.ones(6, 3))
    assert same_on_every_rank(ddp.module[1].running_mean.numpy())
    assert same_on_every_rank(ddp.module[1].num_batches_tracked.numpy())


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.used, self.unused = nn.Linear(3, 1), nn.Linear(3, 1)

    def forward(self, x):
        return self.used(x)


def unused_parameters():
    ddp = DDP(TwoHeads())
    with raises(RuntimeError, "unused.weight, unused.bias"):
        ddp(torch.ones(2, 3)).sum().backward()
    ddp = DDP(TwoHeads(), find_unused_parameters=True)
    ddp(torch.ones(2, 3)).sum().backward()
    assert ddp.module.unused.weight.grad is None and ddp.module.used.weight.grad is not None
    assert same_on_every_rank(ddp.module.used.weight.grad.numpy())


def mismatched_models():
    rank = dist.get_rank()
    with raises(RuntimeError, "parameter 0 is ('weight', [2, 3]"):
        DDP(nn.Linear(3, 2 + rank))


def state_dict():
    ddp = DDP(nn.Linear(3, 2))
    assert list(ddp.state_dict()) == ["weight", "bias"]
    plain = nn.Linear(3, 2)
    plain.load_state_dict(ddp.state_dict())
    ddp.load_state_dict({"module." + k: v for k, v in plain.state_dict().items()})


def failure():
    """Rank 1 raises while rank 0 waits in a collective: the job must end, not hang."""
    if dist.get_rank() == 1:
        raise ValueError("deliberate failure on rank 1")
    dist.barrier()


SCENARIOS = {f.__name__: f for f in (collectives, equivalence, no_sync, buffers, unused_parameters,
                                     mismatched_models, state_dict, failure)}

if __name__ == "__main__":
    dist.init_process_group("mpi")
    for name in sys.argv[1:]:
        SCENARIOS[name]()
        dist.barrier()
        if dist.get_rank() == 0:
            print("ok", name, flush=True)
    dist.destroy_process_group()
