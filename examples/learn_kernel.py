"""d2l's "learning a kernel": recover the edge detector K = [1, -1] from X and Y = X * K by gradient descent.

    python examples/learn_kernel.py
"""
import minigrad as torch
from minigrad import nn


def corr2d(X, K):
    """2-d cross-correlation from the definition, as in d2l."""
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


def main():
    torch.manual_seed(0)
    X = torch.ones((6, 8))
    X[:, 2:6] = 0
    K = torch.tensor([[1.0, -1.0]])
    Y = corr2d(X, K)
    # a convolution with one output channel and a (1, 2) kernel; bias is left out for simplicity
    conv2d = nn.LazyConv2d(1, kernel_size=(1, 2), bias=False)
    # the two-dimensional convolutional layer uses four-dimensional input and output:
    # (example, channel, height, width), with a batch size and a channel count of 1
    X = X.reshape((1, 1, 6, 8))
    Y = Y.reshape((1, 1, 6, 7))
    lr = 3e-2  # learning rate
    for i in range(10):
        Y_hat = conv2d(X)
        loss = (Y_hat - Y) ** 2
        conv2d.zero_grad()
        loss.sum().backward()
        conv2d.weight.data[:] -= lr * conv2d.weight.grad  # update the kernel
        if (i + 1) % 2 == 0:
            print(f"epoch {i + 1}, loss {loss.sum():.3f}")
    print("learned kernel:", [round(v, 4) for v in conv2d.weight.data.reshape((1, 2)).tolist()[0]])


if __name__ == "__main__":
    main()
