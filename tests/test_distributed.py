"""minigrad.distributed, DistributedDataParallel and DistributedSampler. The MPI scenarios run in
tests/distributed_worker.py under `mpiexec -n 2`, in a process session of their own with a timeout that kills
the whole group, so a hang fails the test instead of blocking CI."""
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import minigrad
from minigrad.data import DataLoader, DistributedSampler, TensorDataset

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKER = ROOT / "tests" / "distributed_worker.py"


def mpiexec():
    pytest.importorskip("mpi4py", reason="the mpi extra is not installed: pip install -e \".[mpi]\"")
    beside_python = pathlib.Path(sys.executable).parent / "mpiexec"
    found = str(beside_python) if beside_python.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.skip("mpi4py is installed but mpiexec is not on PATH")
    return found


def launch(*args, ranks=2, timeout=120):
    """(returncode, stdout, stderr) of mpiexec -n ranks python args...; the whole group dies at the timeout."""
    env = dict(os.environ, MINIGRAD_THREADS_PER_RANK="1")
    process = subprocess.Popen([mpiexec(), "-n", str(ranks), sys.executable, *map(str, args)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"mpiexec {' '.join(map(str, args))} hung for {timeout} s:\n{out}\n{err}")
    return process.returncode, out, err


SCENARIOS = ["collectives", "equivalence", "no_sync", "buffers", "unused_parameters", "mismatched_models",
             "state_dict"]


def test_scenarios_on_two_ranks():
    code, out, err = launch(WORKER, *SCENARIOS)
    assert code == 0, out + err
    assert out.split("\n")[:-1] == [f"ok {name}" for name in SCENARIOS]


def test_a_failing_rank_ends_the_job_within_seconds():
    start = time.perf_counter()
    code, out, err = launch(WORKER, "failure", timeout=60)
    assert code != 0
    assert "deliberate failure on rank 1" in err and "rank 1 of 2 failed (ValueError); aborting the job" in err
    assert time.perf_counter() - start < 30


def test_without_mpi4py_minigrad_works_and_says_what_to_install():
    script = ("import sys; sys.modules['mpi4py'] = None\n"
              "import minigrad, minigrad.distributed as dist\n"
              "assert not dist.is_available() and not dist.is_initialized()\n"
              "try:\n    dist.init_process_group('mpi')\n"
              "except RuntimeError as error:\n    print(error)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'pip install -e ".[mpi]"' in result.stdout


def test_calls_before_init_process_group_raise():
    import minigrad.distributed as dist
    for call in (dist.get_rank, dist.get_world_size, dist.barrier, lambda: dist.all_reduce(minigrad.ones(1))):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            call()
    with pytest.raises(ValueError, match="backend must be 'mpi'"):
        dist.init_process_group("nccl")


# --- DistributedSampler: PyTorch's semantics ------------------------------------------------------------

@pytest.mark.parametrize("n, replicas", [(10, 3), (9, 3), (2, 5), (7, 1), (0, 2)])
@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
def test_sampler_shares(n, replicas, drop_last, shuffle):
    shares = [list(DistributedSampler(range(n), replicas, r, shuffle=shuffle, seed=3, drop_last=drop_last))
              for r in range(replicas)]
    sizes = {len(s) for s in shares}
    assert len(sizes) == 1 and sizes.pop() == len(DistributedSampler(range(n), replicas, 0, drop_last=drop_last))
    union = [i for s in shares for i in s]
    if drop_last:
        assert len(set(union)) == len(union) and len(union) == n - n % replicas
    else:
        assert set(union) == set(range(n)) and len(union) == -(-n // replicas) * replicas
    if not shuffle:
        assert shares[0][:1] == ([0] if shares[0] else [])


def test_sampler_epochs_reshuffle_and_agree_across_ranks():
    a, b = DistributedSampler(range(20), 2, 0, seed=1), DistributedSampler(range(20), 2, 1, seed=1)
    first = list(a) + list(b)
    assert sorted(first) == list(range(20))
    assert list(a) == list(DistributedSampler(range(20), 2, 0, seed=1))  # same permutation without set_epoch
    a.set_epoch(1)
    b.set_epoch(1)
    assert list(a) + list(b) != first and sorted(list(a) + list(b)) == list(range(20))


def test_sampler_matches_pytorch_without_shuffle():
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler
    for n, replicas, drop_last in ((10, 3, False), (10, 3, True), (2, 5, False), (11, 4, True)):
        for rank in range(replicas):
            ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
            theirs = TorchSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
            assert list(ours) == list(theirs) and len(ours) == len(theirs)
    del torch


def test_sampler_argument_errors():
    with pytest.raises(ValueError, match="Invalid rank 3"):
        DistributedSampler(range(4), num_replicas=3, rank=3)
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(range(4))


def test_dataloader_takes_a_sampler():
    data = TensorDataset(minigrad.arange(10))
    loader = DataLoader(data, batch_size=2, sampler=DistributedSampler(data, 2, 1, shuffle=False))
    assert len(loader) == 3 and [b[0].tolist() for b in loader] == [[1, 3], [5, 7], [9]]
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(data, sampler=[0, 1], shuffle=True)
    np.testing.assert_array_equal(next(iter(DataLoader(data, 3, False, [4, 2, 0])))[0].numpy(), [4, 2, 0])


def test_train_lenet_distributed_reports_once_and_learns_as_one_process(tmp_path):
    script = ROOT / "examples" / "train_lenet.py"
    common = ["--dataset", "synthetic", "--model", "modern", "--epochs", "3", "--no-progress",
              "--data-dir", tmp_path]
    code, out, err = launch(script, *common, "--distributed", "--checkpoint", tmp_path / "ddp.safetensors")
    assert code == 0, out + err
    assert out.count("epoch 3: loss") == 1 and "2 ranks of batch 128" in out
    single = subprocess.run([sys.executable, script, *map(str, common)], capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr

    def final_accuracy(text):
        return float(text.split("epoch 3:")[1].split("test acc ")[1].split(",")[0])
    assert final_accuracy(out) > 0.9 and abs(final_accuracy(out) - final_accuracy(single.stdout)) < 0.05
    checkpoint = minigrad.load(tmp_path / "ddp.safetensors")
    assert checkpoint["epoch"] == 3 and "0.weight" in checkpoint["model"]  # a single-process model loads it
