"""The helpers of generated code in PyTorch's own idiom (torch.softmax, torch.logsumexp, ...): fused,
stable kernels that PyTorch already ships, used by the torch backend's callable and printed into its
source. Imported only when the torch backend is asked for (torch is an optional extra)."""

from __future__ import annotations

import torch


def sigmoid(z):
    return torch.sigmoid(z)


def relu(z):
    return torch.relu(z)


def step(z):
    return (z > 0).to(z.dtype)


def softmax(z):
    return torch.softmax(z, dim=0)


def logsumexp(z):
    return torch.logsumexp(z, dim=0)


def softmax_rows(Z):
    return torch.softmax(Z, dim=1)


def logsumexp_rows(Z):
    return torch.logsumexp(Z, dim=1)


def log_softmax(z):
    return torch.log_softmax(z, dim=0)


def log_softmax_rows(Z):
    return torch.log_softmax(Z, dim=1)


def softplus(z):
    # log(1 + exp(z)) exactly (torch.nn.functional.softplus switches to z above a threshold)
    return torch.logaddexp(z, torch.zeros_like(z))


def logdet(X):
    sign, value = torch.linalg.slogdet(X)
    return value if sign > 0 else value + torch.log(sign)  # log of a negative determinant is nan


def norm1(X):
    return torch.sum(torch.abs(X))


def erf(z):
    return torch.erf(z)


def normcdf(z):
    return 0.5 * torch.erfc(-z / 2.0 ** 0.5)


def normpdf(z):
    return torch.exp(-0.5 * z * z) / (2.0 * torch.pi) ** 0.5


def gelu(z):
    return torch.nn.functional.gelu(z)


def gelu_tanh(z):
    return torch.nn.functional.gelu(z, approximate="tanh")


def silu(z):
    return torch.nn.functional.silu(z)


def ismax(X):
    return (X == X.max()).to(X.dtype)


def ismin(X):
    return (X == X.min()).to(X.dtype)


HELPERS = {f.__name__: f for f in (sigmoid, relu, step, softmax, logsumexp, softmax_rows, logsumexp_rows,
                                   log_softmax, log_softmax_rows, softplus, logdet, norm1, erf, normcdf,
                                   normpdf, gelu, gelu_tanh, silu, ismax, ismin)}
