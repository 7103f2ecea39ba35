"""The range coder with fixed tables: exact round trips, escapes, table construction, cost."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lvc_zoo.coding import Decode, Encode
from lvc_zoo.coding.entropy_coder import (
    PRECISION,
    ChunkReader,
    ESCAPE_FLOORS,
    ChunkWriter,
    SymbolTable,
    conditional_tables,
    factorized_tables,
    quantize_pmf,
    scale_index,
)
from lvc_zoo.errors import BitstreamError, InputError
from lvc_zoo.layers.entropy import FactorizedBitEstimator, phase_mask


def test_quantize_pmf_is_a_full_16_bit_table_with_every_slot_codable() -> None:
    freqs = quantize_pmf(np.array([0.5, 0.3, 0.2, 0.0, 1e-12]), tail=0.0)
    assert freqs.sum() == 2**PRECISION and freqs.min() >= 1 and len(freqs) == 6
    assert freqs[0] > freqs[1] > freqs[2]


@pytest.mark.parametrize("distribution", ["laplace", "gaussian"])
def test_conditional_tables_follow_the_official_scale_table(distribution: str) -> None:
    tables = conditional_tables(distribution)
    assert len(tables) == 256
    supports = [-t.lowest for t in tables]
    assert supports == sorted(supports) and supports[0] == 2 and supports[-1] <= 50
    assert all(t.highest == -t.lowest and t.freqs.sum() == 2**PRECISION for t in tables)
    assert conditional_tables(distribution) is tables  # computed once per process


def test_scale_index_floors_onto_the_log_table() -> None:
    log_min, log_max = math.log(0.01), math.log(64.0)
    table = torch.exp(torch.linspace(log_min, log_max, 256, dtype=torch.float64))
    # Just above each table scale, the index is that entry (the official int() truncation).
    idx = scale_index((table * 1.0001).float(), "laplace")
    assert torch.equal(idx, torch.arange(256))
    assert scale_index(torch.tensor([0.0, 1e-9, 1e9]), "laplace").tolist() == [0, 0, 255]
    assert scale_index(torch.tensor([0.11 * 1.0001]), "gaussian").item() == 0


def _round_trip(symbols: np.ndarray, table_ids: np.ndarray, tables) -> tuple[np.ndarray, bytes, ChunkWriter]:
    writer = ChunkWriter()
    writer.push(symbols, table_ids, tables)
    data = writer.finish()
    return ChunkReader(data).pull(table_ids, tables), data, writer


def test_round_trip_is_exact_including_escapes_and_int32_extremes() -> None:
    rng = np.random.default_rng(0)
    tables = conditional_tables("laplace")
    scales = torch.exp(torch.empty(20000).uniform_(-5, 4, generator=torch.Generator().manual_seed(0)))
    ids = scale_index(scales, "laplace").numpy()
    symbols = np.round(rng.laplace(0, scales.numpy())).astype(np.int64)
    symbols[:6] = [2**31 - 1, -(2**31), 51, -51, 1000, -70000]
    decoded, data, writer = _round_trip(symbols, ids, tables)
    np.testing.assert_array_equal(decoded, symbols)
    assert writer.escape_count >= 6
    assert 0 <= len(data) * 8 - writer.ideal_bits <= 64


def test_size_matches_the_ideal_length_of_the_tables() -> None:
    tables = conditional_tables("gaussian")
    ids = np.full(50000, 128)
    symbols = np.random.default_rng(1).integers(-3, 4, size=50000)
    _, data, writer = _round_trip(symbols, ids, tables)
    expected = float(np.sum(PRECISION - np.log2(tables[128].freqs[symbols - tables[128].lowest])))
    assert writer.escape_floor == 0  # nothing escapes: the plain tables are cheapest
    assert writer.ideal_bits == pytest.approx(expected + math.log2(len(ESCAPE_FLOORS)))
    assert len(data) * 8 <= writer.ideal_bits * 1.01 + 64


def test_escape_floor_keeps_the_table_and_moves_mass_to_the_escape() -> None:
    table = conditional_tables("gaussian")[100]
    assert table.with_escape_floor(0.0) is table
    floored = table.with_escape_floor(2.0**-6)
    assert floored is table.with_escape_floor(2.0**-6)  # computed once
    assert floored.lowest == table.lowest and len(floored.freqs) == len(table.freqs)
    assert floored.freqs.sum() == 2**PRECISION and floored.freqs.min() >= 1
    assert floored.freqs[-1] == pytest.approx(2**PRECISION * 2.0**-6, rel=0.02)
    assert floored.freqs[-1] > 100 * table.freqs[-1]


def test_a_chunk_with_many_outliers_codes_them_with_a_cheaper_escape() -> None:
    """Residuals of 20 sigma, as miscalibrated scales give: a floor beats the tail mass."""
    tables = conditional_tables("gaussian")
    rng = np.random.default_rng(3)
    ids = np.full(4000, 120)
    symbols = np.round(rng.normal(0, 1.3, size=4000)).astype(np.int64)
    symbols[::50] = rng.integers(15, 30, size=80) * rng.choice([-1, 1], size=80)
    decoded, data, writer = _round_trip(symbols, ids, tables)
    np.testing.assert_array_equal(decoded, symbols)
    assert writer.escape_floor > 0 and writer.escape_count == 80

    plain = ChunkWriter()  # the same symbols under the tail-mass escape
    plain.push(symbols, ids, tables)
    plain._cheapest_floor = lambda: 0  # type: ignore[method-assign]
    plain.finish()
    assert writer.ideal_bits < plain.ideal_bits - 80 * 3  # at least 3 bits saved per outlier
    assert 0 <= len(data) * 8 - writer.ideal_bits <= 64


def test_successive_pushes_decode_in_the_same_order() -> None:
    tables = (SymbolTable(-1, quantize_pmf(np.array([0.25, 0.5, 0.25]), 1e-3)),)
    rng = np.random.default_rng(2)
    parts = [rng.integers(-3, 4, size=n) for n in (1, 7, 100)]
    writer = ChunkWriter()
    for part in parts:
        writer.push(part, np.zeros(len(part), dtype=np.int64), tables)
    reader = ChunkReader(writer.finish())
    for part in parts:
        np.testing.assert_array_equal(reader.pull(np.zeros(len(part), dtype=np.int64), tables), part)


def test_factorized_tables_cover_each_channel_support() -> None:
    torch.manual_seed(0)
    estimator = FactorizedBitEstimator(3)
    with torch.no_grad():
        estimator.f1.h.fill_(3.0)  # a sharper CDF: a narrow support
    tables = factorized_tables(estimator)
    assert len(tables) == 3
    for table in tables:
        assert 2 <= -table.lowest <= 50 and 2 <= table.highest <= 50
        assert table.freqs.sum() == 2**PRECISION
    symbols = np.array([0, 1, -1, 60, -60, 0])
    decoded, _, _ = _round_trip(symbols, np.array([0, 1, 2, 0, 1, 2]), tables)
    np.testing.assert_array_equal(decoded, symbols)


def test_chunk_of_partial_words_is_refused() -> None:
    with pytest.raises(BitstreamError, match="32-bit words"):
        ChunkReader(b"\x00\x01\x02")


def test_a_push_codes_one_group_per_table_in_increasing_table_order_keeping_the_symbols_order() -> None:
    """The grouping the decoder relies on: a push of mixed tables is the pushes of its groups, table by table."""
    tables = conditional_tables("laplace")
    rng = np.random.default_rng(4)
    ids = rng.choice([3, 200, 17, 90], size=3000)
    symbols = np.round(rng.laplace(0, 30, size=3000)).astype(np.int64)  # some escape in the narrow tables
    mixed = ChunkWriter()
    mixed.push(symbols, ids, tables)
    grouped = ChunkWriter()
    for table_id in sorted(set(ids.tolist())):
        grouped.push(symbols[ids == table_id], np.zeros((ids == table_id).sum(), dtype=np.int64), (tables[table_id],))
    assert mixed.finish() == grouped.finish()
    assert mixed.escape_count == grouped.escape_count > 0 and mixed.ideal_bits == pytest.approx(grouped.ideal_bits)


def test_factorized_tables_are_kept_until_the_weights_change() -> None:
    torch.manual_seed(0)
    estimator = FactorizedBitEstimator(4, sets=2)
    tables = factorized_tables(estimator)
    assert factorized_tables(estimator) is tables  # computed once per weights
    assert factorized_tables(estimator.select(1)) is not tables  # another parameter set, other tables
    with torch.no_grad():
        estimator.f1.h[0].add_(1.0)  # trained in place between two calls
    changed = factorized_tables(estimator)
    assert changed is not tables and any(not np.array_equal(a.freqs, b.freqs) for a, b in zip(changed, tables))
    twin = FactorizedBitEstimator(4, sets=2)
    twin.load_state_dict(estimator.state_dict())
    assert factorized_tables(twin) is changed  # the same values give the same tables


@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "float64", "bfloat16"])
def test_decode_places_the_symbols_where_the_mask_is_in_the_layout_of_the_scales(layout: str) -> None:
    """The coders' numpy selection (bfloat16: torch's) gives the symbols, order and layout of torch's indexing."""
    generator = torch.Generator().manual_seed(7)
    scales = torch.rand(2, 8, 6, 10, generator=generator) * 4
    residual = torch.randn(2, 8, 6, 10, generator=generator) * 3
    if layout == "channels_last":
        scales = scales.contiguous(memory_format=torch.channels_last)
    dtype = {"float64": torch.float64, "bfloat16": torch.bfloat16}.get(layout, torch.float32)
    scales, residual = scales.to(dtype), residual.to(dtype)
    mask = phase_mask((0, 3, 1, 2), 8, 6, 10, dtype, scales.device)
    writer = ChunkWriter()
    encoded = Encode(writer).code_conditional(residual, scales, mask, "laplace", "y")
    decoded = Decode(ChunkReader(writer.finish())).code_conditional(None, scales, mask, "laplace", "y")
    assert decoded.dtype == dtype and decoded.stride() == torch.zeros_like(scales).stride()
    assert torch.equal(decoded.to(encoded.dtype), encoded)
    assert torch.equal(encoded, torch.round(residual.to(encoded.dtype)) * mask)


def test_a_symbol_outside_int32_is_refused_with_what_to_check() -> None:
    """A NaN latent becomes int64's minimum: the writer says so instead of failing inside the range coder."""
    tables = conditional_tables("laplace")
    ChunkWriter().push(np.array([2**31 - 1, -(2**31)]), np.array([0, 255]), tables)  # the int32 ends code
    for symbol in (2**31, np.iinfo(np.int64).min):
        with pytest.raises(InputError, match="NaN, infinite or huge latents"):
            ChunkWriter().push(np.array([0, symbol]), np.array([0, 0]), tables)
