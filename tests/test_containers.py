"""ModuleDict, ParameterList, ParameterDict, parameters_to_vector / vector_to_parameters and trunc_normal_, as
in PyTorch."""
import numpy as np
import pytest

import minigrad
from minigrad import nn


def test_module_dict():
    blocks = nn.ModuleDict({"conv": nn.Conv2d(1, 2, 3), "fc": nn.Linear(2, 2)})
    blocks["act"] = nn.ReLU()
    assert list(blocks) == ["conv", "fc", "act"] and len(blocks) == 3 and "fc" in blocks
    assert [k for k, _ in blocks.named_parameters()] == ["conv.weight", "conv.bias", "fc.weight", "fc.bias"]
    blocks.update([("pool", nn.MaxPool2d(2))])
    assert isinstance(blocks.pop("act"), nn.ReLU) and list(blocks.keys()) == ["conv", "fc", "pool"]
    del blocks["pool"]
    assert list(blocks) == ["conv", "fc"]
    with pytest.raises(TypeError, match="iterable of key/value pairs"):
        blocks.update(3)
    with pytest.raises(ValueError, match="has length 3"):
        blocks.update([("a", nn.ReLU(), 1)])


def test_parameter_list_and_dict_register_and_wrap_tensors():
    params = nn.ParameterList([minigrad.ones(2), nn.Parameter(minigrad.zeros(3))])
    params.append(minigrad.ones(1))
    assert len(params) == 3 and all(isinstance(p, nn.Parameter) and p.requires_grad for p in params)
    assert [k for k, _ in params.named_parameters()] == ["0", "1", "2"] and params[-1].shape == (1,)
    assert len(params[1:]) == 2
    with pytest.raises(IndexError):
        params[3]
    table = nn.ParameterDict({"a": minigrad.ones(2)})
    table["b"] = minigrad.zeros(1)
    assert list(table) == ["a", "b"] and isinstance(table["b"], nn.Parameter)
    assert list(table.state_dict()) == ["a", "b"]
    assert table.pop("a").shape == (2,) and list(table) == ["b"]
    with pytest.raises(KeyError):
        table["a"]


def test_containers_match_pytorch_state_dict_keys():
    torch = pytest.importorskip("torch")
    ours = nn.ModuleDict({"p": nn.ParameterList([minigrad.ones(2)]), "d": nn.ParameterDict({"w": minigrad.ones(1)})})
    theirs = torch.nn.ModuleDict({"p": torch.nn.ParameterList([torch.ones(2)]),
                                  "d": torch.nn.ParameterDict({"w": torch.ones(1)})})
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_parameter_vector_round_trip():
    net = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vector = nn.utils.parameters_to_vector(net.parameters())
    assert vector.shape == (11,)
    np.testing.assert_array_equal(vector.detach().numpy()[:6], net[0].weight.detach().numpy().ravel())
    nn.utils.vector_to_parameters(minigrad.arange(11, dtype=minigrad.float32), net.parameters())
    np.testing.assert_array_equal(net[1].bias.detach().numpy(), [10.0])
    with pytest.raises(RuntimeError, match=r"expected vec of shape \[11\]"):
        nn.utils.vector_to_parameters(minigrad.ones(5), net.parameters())
    with pytest.raises(TypeError, match="expected vec to be a Tensor"):
        nn.utils.vector_to_parameters([1.0], net.parameters())


def test_trunc_normal_statistics():
    values = nn.init.trunc_normal_(minigrad.empty(40000, dtype=minigrad.float64), mean=0.5, std=2.0, a=-1.0, b=3.0,
                                   generator=minigrad.Generator().manual_seed(0)).numpy()
    assert values.min() >= -1.0 and values.max() <= 3.0
    from scipy.stats import truncnorm
    expected = truncnorm((-1.0 - 0.5) / 2.0, (3.0 - 0.5) / 2.0, loc=0.5, scale=2.0)
    assert abs(values.mean() - expected.mean()) < 0.03 and abs(values.std() - expected.std()) < 0.03
    with pytest.raises(ValueError, match="a < b"):
        nn.init.trunc_normal_(minigrad.empty(2), a=1.0, b=0.0)


def test_kaiming_on_an_empty_tensor_warns_and_does_nothing():
    with pytest.warns(UserWarning, match="zero-element tensors is a no-op"):
        nn.init.kaiming_uniform_(minigrad.empty(0, 3))
