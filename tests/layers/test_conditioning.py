"""Tests of lvc_zoo.layers.conditioning: the quality embedding and the FiLM that applies it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

from lvc_zoo.errors import ConfigError
from lvc_zoo.layers.conditioning import FiLM, QualityEmbedding


def test_embedding_reads_rows_at_integers_and_interpolates_between_them() -> None:
    embedding = QualityEmbedding(64, 8)
    assert torch.equal(embedding(5), embedding.table[5:6])
    assert torch.equal(embedding(torch.tensor([0.0, 63.0])), embedding.table[[0, 63]])
    torch.testing.assert_close(embedding(5.25), 0.75 * embedding.table[5:6] + 0.25 * embedding.table[6:7])


def test_embedding_is_continuous_in_fractional_q() -> None:
    embedding = QualityEmbedding(64, 8)
    steps = embedding(torch.linspace(10, 11, 101))
    assert (steps.diff(dim=0).abs().amax() < (embedding.table[11] - embedding.table[10]).abs().amax() / 50 + 1e-6)


@pytest.mark.parametrize("q", [-0.5, 63.5, 100])
def test_embedding_rejects_a_q_index_outside_the_table(q: float) -> None:
    with pytest.raises(ConfigError, match=r"\[0, 63\]"):
        QualityEmbedding(64, 8)(q)


def test_film_starts_as_the_exact_identity() -> None:
    film, x = FiLM(8, 16, 6), torch.randn(2, 6, 5, 5)
    assert torch.equal(film(x, torch.randn(2, 8)), x)


def test_trained_film_makes_different_qualities_give_different_outputs(
    assert_gradients_reach_every_parameter: Callable[[nn.Module, Tensor], None],
) -> None:
    embedding, film = QualityEmbedding(64, 8), FiLM(8, 16, 6)
    nn.init.normal_(film.mlp[-1].weight)
    x = torch.randn(1, 6, 4, 4)
    low, high = film(x, embedding(0)), film(x, embedding(63))
    assert not torch.allclose(low, high)
    assert_gradients_reach_every_parameter(nn.ModuleList([embedding, film]), low.square().sum() + high.sum())
