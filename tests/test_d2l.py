"""Code from the d2l book's chapters (linear regression to batch normalization), as written there but
for `import minigrad as torch`. Each snippet must run unchanged and give the book's result."""
import numpy as np
import pytest

import minigrad as torch
from minigrad import nn
from minigrad.utils import data


def try_gpu(i=0):
    if torch.cuda.device_count() >= i + 1:
        return torch.device(f"cuda:{i}")
    return torch.device("cpu")


def synthetic_data(w, b, num_examples):
    X = torch.normal(0, 1, (num_examples, len(w)))
    y = torch.matmul(X, w) + b
    y += torch.normal(0, 0.01, y.shape)
    return X, y.reshape((-1, 1))


def test_linear_regression_concise():
    torch.manual_seed(0)
    true_w, true_b = torch.tensor([2, -3.4]), 4.2
    features, labels = synthetic_data(true_w, true_b, 1000)
    data_iter = data.DataLoader(data.TensorDataset(features, labels), 10, shuffle=True)
    net = nn.Sequential(nn.Linear(2, 1))
    net[0].weight.data.normal_(0, 0.01)
    net[0].bias.data.fill_(0)
    loss = nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=0.03)
    for epoch in range(3):
        for X, y in data_iter:
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
    w = net[0].weight.data
    assert (true_w - w.reshape(true_w.shape)).abs().max().item() < 0.01
    assert abs(true_b - net[0].bias.data.item()) < 0.01


def test_softmax_from_scratch_pieces():
    X = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert X.sum(0, keepdim=True).tolist() == [[5.0, 7.0, 9.0]]
    X_exp = torch.exp(X)
    partition = X_exp.sum(axis=1, keepdims=True)
    probs = X_exp / partition
    np.testing.assert_allclose(probs.sum(1).numpy(), [1, 1], rtol=1e-6)
    y = torch.tensor([0, 2])
    y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    assert y_hat[[0, 1], y].tolist() == pytest.approx([0.1, 0.5])
    cross_entropy = -torch.log(y_hat[range(len(y_hat)), y])
    assert cross_entropy.tolist() == pytest.approx([2.3026, 0.6931], rel=1e-4)
    cmp = y_hat.argmax(axis=1).type(y.dtype) == y
    assert float(cmp.type(y.dtype).sum()) == 1.0


def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


def test_convolutions_from_scratch():
    X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    assert corr2d(X, K).tolist() == [[19.0, 25.0], [37.0, 43.0]]

    def corr2d_multi_in(X, K):
        return sum(corr2d(x, k) for x, k in zip(X, K))

    X = torch.tensor([[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]],
                      [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]])
    K = torch.tensor([[[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]])
    assert corr2d_multi_in(X, K).tolist() == [[56.0, 72.0], [104.0, 120.0]]

    def corr2d_multi_in_out(X, K):
        return torch.stack([corr2d_multi_in(X, k) for k in K], 0)

    K = torch.stack((K, K + 1, K + 2), 0)
    assert K.shape == (3, 2, 2, 2)
    assert corr2d_multi_in_out(X, K)[1].tolist() == [[76.0, 100.0], [148.0, 172.0]]

    def corr2d_multi_in_out_1x1(X, K):
        c_i, h, w = X.shape
        c_o = K.shape[0]
        X = X.reshape((c_i, h * w))
        K = K.reshape((c_o, c_i))
        return torch.matmul(K, X).reshape((c_o, h, w))

    X = torch.normal(0, 1, (3, 3, 3))
    K = torch.normal(0, 1, (2, 3, 1, 1))
    assert float(torch.abs(corr2d_multi_in_out_1x1(X, K) - corr2d_multi_in_out(X, K)).sum()) < 1e-5


def test_pooling_and_padding_layers():
    def pool2d(X, pool_size, mode="max"):
        p_h, p_w = pool_size
        Y = torch.zeros((X.shape[0] - p_h + 1, X.shape[1] - p_w + 1))
        for i in range(Y.shape[0]):
            for j in range(Y.shape[1]):
                if mode == "max":
                    Y[i, j] = X[i: i + p_h, j: j + p_w].max()
                elif mode == "avg":
                    Y[i, j] = X[i: i + p_h, j: j + p_w].mean()
        return Y

    X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    assert pool2d(X, (2, 2)).tolist() == [[4.0, 5.0], [7.0, 8.0]]
    assert pool2d(X, (2, 2), "avg").tolist() == [[2.0, 3.0], [5.0, 6.0]]
    X = torch.arange(16, dtype=torch.float32).reshape((1, 1, 4, 4))
    assert nn.MaxPool2d(3)(X).tolist() == [[[[10.0]]]]
    assert nn.MaxPool2d(3, padding=1, stride=2)(X).tolist() == [[[[5.0, 7.0], [13.0, 15.0]]]]
    X = torch.cat((X, X + 1), 1)
    assert nn.MaxPool2d(3, padding=1, stride=2)(X).shape == (1, 2, 2, 2)
    conv2d = nn.LazyConv2d(1, kernel_size=(5, 3), padding=(2, 1))
    assert conv2d(torch.rand(size=(8, 8)).reshape((1, 1) + (8, 8))).reshape((8, 8)).shape == (8, 8)


def test_lenet_shapes_with_lazy_layers_and_init_cnn():
    def init_cnn(module):
        if type(module) == nn.Linear or type(module) == nn.Conv2d:
            nn.init.xavier_uniform_(module.weight)

    net = nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.LazyLinear(120), nn.Sigmoid(), nn.LazyLinear(84), nn.Sigmoid(), nn.LazyLinear(10))
    X = torch.randn(size=(1, 1, 28, 28))
    shapes = []
    for layer in net:
        X = layer(X)
        shapes.append((layer.__class__.__name__, tuple(X.shape)))
    net.apply(init_cnn)
    assert shapes[0] == ("Conv2d", (1, 6, 28, 28)) and shapes[-1] == ("Linear", (1, 10))
    assert sum(p.numel() for p in net.parameters()) == 61706
    device = try_gpu()
    net.to(device)
    assert str(device) == "cpu" and net(X.new_zeros(2, 1, 28, 28).to(device)).shape == (2, 10)


def test_batch_norm_from_scratch():
    def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
        if not torch.is_grad_enabled():
            X_hat = (X - moving_mean) / torch.sqrt(moving_var + eps)
        else:
            assert len(X.shape) in (2, 4)
            if len(X.shape) == 2:
                mean = X.mean(dim=0)
                var = ((X - mean) ** 2).mean(dim=0)
            else:
                mean = X.mean(dim=(0, 2, 3), keepdim=True)
                var = ((X - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
            X_hat = (X - mean) / torch.sqrt(var + eps)
            moving_mean = (1.0 - momentum) * moving_mean + momentum * mean
            moving_var = (1.0 - momentum) * moving_var + momentum * var
        Y = gamma * X_hat + beta
        return Y, moving_mean.data, moving_var.data

    X = torch.randn(4, 3, 5, 5)
    shape = (1, 3, 1, 1)
    gamma, beta = nn.Parameter(torch.ones(shape)), nn.Parameter(torch.zeros(shape))
    Y, moving_mean, moving_var = batch_norm(X, gamma, beta, torch.zeros(shape), torch.ones(shape), 1e-5, 0.1)
    assert Y.shape == X.shape and abs(Y.mean().item()) < 1e-5 and moving_mean.shape == shape
    Y.sum().backward()
    assert gamma.grad.shape == shape
