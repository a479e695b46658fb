"""minigrad.save / minigrad.load: safetensors files, nested structures, atomic writes, clear errors on bad
files, and interchange with PyTorch through safetensors.torch."""
import numpy as np
import pytest

import minigrad
from minigrad import nn


def test_state_dict_round_trip_keeps_order_dtypes_and_values(tmp_path):
    state = {"w": minigrad.randn(3, 4), "b": minigrad.arange(3), "mask": minigrad.tensor([True, False]),
             "d": minigrad.ones(2, dtype=minigrad.float64)}
    minigrad.save(state, tmp_path / "s.safetensors")
    loaded = minigrad.load(tmp_path / "s.safetensors")
    assert list(loaded) == ["w", "b", "mask", "d"]
    for key in state:
        assert loaded[key].dtype is state[key].dtype
        np.testing.assert_array_equal(loaded[key].numpy(), state[key].numpy())


def test_nested_structures_round_trip(tmp_path):
    obj = {"state": {0: {"step": minigrad.tensor(3.0), "buf": minigrad.ones(2)}},
           "param_groups": [{"lr": 0.1, "betas": (0.9, 0.99), "nesterov": False, "params": [0, 1], "name": None}]}
    minigrad.save(obj, tmp_path / "o.safetensors")
    loaded = minigrad.load(tmp_path / "o.safetensors")
    assert loaded["param_groups"] == obj["param_groups"]
    assert list(loaded["state"]) == [0] and loaded["state"][0]["step"].item() == 3.0


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path):
    target = tmp_path / "m.safetensors"
    minigrad.save({"a": minigrad.ones(1)}, target)
    with pytest.raises(TypeError, match="cannot store an object of type object"):
        minigrad.save({"a": minigrad.ones(1), "b": {"c": object()}}, target)
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
    assert minigrad.load(target)["a"].item() == 1.0  # the failed save left the old file intact


def test_truncated_and_foreign_files_give_clear_errors(tmp_path):
    good = tmp_path / "good.safetensors"
    minigrad.save({"a": minigrad.ones(100)}, good)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[:-50])
    foreign = tmp_path / "foreign.pt"
    foreign.write_bytes(b"\x80\x04\x95 this is a pickle, not a safetensors file")
    for path in (truncated, foreign):
        with pytest.raises(RuntimeError, match="is not a readable safetensors file"):
            minigrad.load(path)


def test_models_interchange_with_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    ours = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.Flatten(),
                                 torch.nn.Linear(8, 3))
    minigrad.save(ours.state_dict(), tmp_path / "ours.safetensors")
    theirs.load_state_dict(st_torch.load_file(str(tmp_path / "ours.safetensors")))
    x = np.random.default_rng(0).standard_normal((1, 1, 4, 4)).astype(np.float32)
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(minigrad.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    for p in theirs.parameters():
        torch.nn.init.normal_(p)
    st_torch.save_file(theirs.state_dict(), str(tmp_path / "theirs.safetensors"))
    ours.load_state_dict(minigrad.load(tmp_path / "theirs.safetensors"))
    np.testing.assert_allclose(ours(minigrad.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)
