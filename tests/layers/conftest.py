"""Fixtures shared by the layer tests: a fixed seed, one intra-op thread, and a gradient check."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch
from torch import Tensor, nn


@pytest.fixture(autouse=True)
def _seed_and_single_thread() -> Iterator[None]:
    """Same random state for every layer test; one thread (the tensors are tiny, threads only add overhead)."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _check_gradients(module: nn.Module, loss: Tensor) -> None:
    module.zero_grad(set_to_none=True)
    loss.backward()
    missing = [name for name, p in module.named_parameters() if p.grad is None]
    zero = [name for name, p in module.named_parameters() if p.grad is not None and not p.grad.abs().sum() > 0]
    assert not missing, f"parameters without a gradient: {missing}"
    assert not zero, f"parameters with an all-zero gradient: {zero}"


@pytest.fixture
def assert_gradients_reach_every_parameter() -> Callable[[nn.Module, Tensor], None]:
    """`check(module, loss)`: backpropagates `loss`; every parameter must get a non-zero gradient."""
    return _check_gradients
