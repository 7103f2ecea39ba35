"""Arithmetic coding of integer symbols with fixed tables (constriction's range coder).

The scheme follows the official DCVC coder:

* Conditional latents: a symbol is round(y - mean); its distribution is a zero-mean Laplace
  (P-frame latents) or Gaussian (I-frame latents) whose scale is floored onto a 256-level
  log-spaced table (`scale_index`); each table entry is one fixed categorical distribution
  over [-c, c] with c the smallest integer in 2..50 whose CDF exceeds 0.9999.
* Factorized hyper-latents: one table per channel, sampled from the learned CDF over the
  channel's support (smallest i in 2..50 with a tail below 1e-4 on each side).

Every table ends with an escape slot carrying the tail mass. An escaped symbol is followed by
its excess (a zig-zag integer) as a bit length (uniform over 0..32) and up to two 16-bit
pieces (uniform), so any int32 symbol codes. Probabilities are quantised to 16 bits with every
slot at least 1/65536, and the coder is handed exactly those dyadic values; it re-quantises
them to its own 24-bit precision, so a chunk costs the tables' ideal length `-sum log2(p)` to
within a few tens of bits (measured: -14 to +28 bits per frame, flush included).

Escape floor [choice]: a model whose predicted scales are too small for some latents (seen in
trained models: residuals of 20 sigma) would pay the escape at the tail mass, 13+ bits, where
the official estimate caps a symbol at -log2(1e-5) = 16.6 bits in all. So each chunk starts
with a 3-bit choice among `ESCAPE_FLOORS`: every table of the chunk whose tail is smaller
carries about that mass on its escape slot instead (the other slots scaled down). The writer
buffers the chunk's symbols and picks the floor that gives the shortest ideal length, so a
well-calibrated model keeps the plain tables and pays 3 bits per chunk.

Symbols are coded in groups that share a table: each call of `push` orders its symbols by
table index (a stable sort, so a group keeps the symbols' order) and codes one group per
distinct table, in increasing table index; the decoder regroups identically because it
computes the same table indices from the same decoded parameters. Everything per symbol is
vectorised (numpy); Python loops run over groups only.

Caches [choice]: the conditional tables are a pure function of the distribution (computed once
per process); factorized tables are kept per content of the estimator's parameters
(`FactorizedDistribution.parameters_key`, so training between calls is seen), the last
`FACTORIZED_CACHE_SIZE` of them; every table keeps its constriction model and its
escape-floored variants.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import constriction
import numpy as np
import torch
from torch import Tensor

from ..errors import BitstreamError, InputError
from .distributions import SCALE_MIN, Distribution, FactorizedDistribution, cdf_of

__all__ = [
    "PRECISION",
    "SymbolTable",
    "SymbolTables",
    "quantize_pmf",
    "conditional_tables",
    "factorized_tables",
    "scale_index",
    "ESCAPE_FLOORS",
    "FACTORIZED_CACHE_SIZE",
    "ChunkWriter",
    "ChunkReader",
]

PRECISION = 16
"""Table probabilities are integers / 2**PRECISION, each slot at least 1 / 2**PRECISION."""

TABLE_LEVELS = 256
TABLE_SCALE_MAX = 64.0
TABLE_SCALE_MIN = {"laplace": 0.01, "gaussian": 0.11}
"""Scale table of the official coder: TABLE_LEVELS log-spaced scales from the distribution's minimum to 64."""

ESCAPE_FLOORS: tuple[float, ...] = (0.0, 2.0**-14, 2.0**-12, 2.0**-10, 2.0**-8, 2.0**-6, 2.0**-4, 2.0**-3)
"""Escape masses a chunk can choose from (its first symbol, uniform over these 8)."""

_ESCAPE_LENGTH_SIZE = 33  # bit length of an escape's excess: 0..32
_PIECE_BITS = 16


@dataclass(frozen=True, eq=False)
class SymbolTable:
    """A fixed categorical distribution over the integers lowest..lowest+len(freqs)-2 plus an escape.

    Attributes:
        lowest: the smallest symbol with its own slot.
        freqs: (L,) int64 frequencies summing to 2**PRECISION; the last slot is the escape.
    """

    lowest: int
    freqs: np.ndarray
    _floored: dict[float, SymbolTable] = field(default_factory=dict, repr=False)

    @cached_property
    def highest(self) -> int:
        """The largest symbol with its own slot."""
        return self.lowest + len(self.freqs) - 2

    @cached_property
    def escape(self) -> int:
        """Slot index of the escape (read once per group when decoding)."""
        return len(self.freqs) - 1

    @cached_property
    def model(self) -> constriction.stream.model.Categorical:
        """The constriction model with exactly these (dyadic) probabilities (built once per table)."""
        return constriction.stream.model.Categorical(self.freqs / 2.0**PRECISION, perfect=False)

    def with_escape_floor(self, floor: float) -> SymbolTable:
        """This table with about `floor` of the mass on its escape slot, if its tail is smaller.

        Same slots and symbols; the other slots are scaled down (each keeps at least
        1/2**PRECISION). Computed once per floor and kept on the table.
        """
        if floor * 2**PRECISION <= self.freqs[-1]:
            return self
        if floor not in self._floored:
            self._floored[floor] = SymbolTable(self.lowest, quantize_pmf(self.freqs[:-1] / 2.0**PRECISION, floor))
        return self._floored[floor]

    @cached_property
    def floor_costs(self) -> np.ndarray:
        """(len(ESCAPE_FLOORS), L) bits of each slot under each escape floor."""
        freqs = np.stack([self.with_escape_floor(floor).freqs for floor in ESCAPE_FLOORS])
        return PRECISION - np.log2(freqs)


class SymbolTables(tuple):
    """An immutable sequence of `SymbolTable`s with the per-table arrays that vectorised coding reads.

    Built once per table set (the conditional tables, each cached factorized set); the arrays
    are computed on first use.
    """

    @cached_property
    def lowest(self) -> np.ndarray:
        """(T,) int64 smallest symbol with its own slot, per table."""
        return np.array([table.lowest for table in self], dtype=np.int64)

    @cached_property
    def escape(self) -> np.ndarray:
        """(T,) int64 slot index of the escape, per table (= its count of regular slots)."""
        return np.array([table.escape for table in self], dtype=np.int64)

    @cached_property
    def slot_offsets(self) -> np.ndarray:
        """(T + 1,) int64 start of each table's slots when all tables' slots are laid end to end."""
        return np.concatenate(([0], np.cumsum([len(table.freqs) for table in self]))).astype(np.int64)

    @cached_property
    def floor_costs(self) -> np.ndarray:
        """(len(ESCAPE_FLOORS), total slots) bits of every slot of every table under each escape floor."""
        return np.concatenate([table.floor_costs for table in self], axis=1)

    def floored(self, floor_index: int) -> tuple[SymbolTable, ...]:
        """Every table under escape floor `ESCAPE_FLOORS[floor_index]` (computed once per floor)."""
        cache: dict[int, tuple[SymbolTable, ...]] = self.__dict__.setdefault("_floored", {})
        if floor_index not in cache:
            cache[floor_index] = tuple(table.with_escape_floor(ESCAPE_FLOORS[floor_index]) for table in self)
        return cache[floor_index]


def _as_tables(tables: Sequence[SymbolTable]) -> SymbolTables:
    return tables if isinstance(tables, SymbolTables) else SymbolTables(tables)


def quantize_pmf(pmf: np.ndarray, tail: float) -> np.ndarray:
    """Integer frequencies of `pmf` plus an escape slot with mass `tail`, summing to 2**PRECISION.

    Every slot gets at least 1; the rounding remainder goes to the most probable slot.
    Pure integer arithmetic after one float64 scaling, so encoder and decoder agree exactly.
    """
    probs = np.append(np.clip(pmf, 0.0, None), max(tail, 0.0)).astype(np.float64)
    total = 2**PRECISION
    free = total - len(probs)
    freqs = np.floor(probs / probs.sum() * free).astype(np.int64) + 1
    freqs[np.argmax(freqs)] += total - freqs.sum()
    return freqs


@lru_cache(maxsize=None)
def conditional_tables(distribution: Distribution) -> SymbolTables:
    """The 256 tables of a zero-mean Laplace or Gaussian at the official scale table's scales.

    A pure function of its argument (computed once per process in float64).
    """
    cdf = cdf_of(distribution)
    log_min, log_max = math.log(TABLE_SCALE_MIN[distribution]), math.log(TABLE_SCALE_MAX)
    scales = torch.exp(torch.linspace(log_min, log_max, TABLE_LEVELS, dtype=torch.float64))
    tables = []
    for scale in scales:
        candidates = torch.arange(2, 51, dtype=torch.float64)
        inside = (cdf(candidates, scale) > 0.9999).nonzero()
        c = int(candidates[inside[0, 0]]) if len(inside) else 50
        support = torch.arange(-c, c + 1, dtype=torch.float64)
        pmf = (cdf(support + 0.5, scale) - cdf(support - 0.5, scale)).numpy()
        tail = float(2 * cdf(torch.tensor(-c - 0.5, dtype=torch.float64), scale))
        tables.append(SymbolTable(-c, quantize_pmf(pmf, tail)))
    return SymbolTables(tables)


def scale_index(scales: Tensor, distribution: Distribution) -> Tensor:
    """Table index of each predicted scale: floor onto the log-spaced table, as the official coder.

    Args:
        scales: predicted scales, any shape; NaN maps to 0, infinities to the ends.
    Returns: int64 indices in 0..255, same shape.
    """
    log_min = math.log(TABLE_SCALE_MIN[distribution])
    step = (math.log(TABLE_SCALE_MAX) - log_min) / (TABLE_LEVELS - 1)
    index = (torch.log(torch.clamp_min(scales, SCALE_MIN)) - log_min) / step
    # NaN scales (only a decoder fed a corrupt chunk computes them) take table 0; finite ones are unchanged
    return torch.nan_to_num(index, nan=0.0).clamp(0, TABLE_LEVELS - 1).to(torch.int64)


FACTORIZED_CACHE_SIZE = 16
"""How many factorized table sets (one per estimator and parameter values) the process keeps."""

_factorized_cache: OrderedDict[bytes, SymbolTables] = OrderedDict()


def factorized_tables(estimator: FactorizedDistribution) -> SymbolTables:
    """One table per channel of a learned factorized CDF, over the channel's likely support.

    Evaluated in float64 (parameters promoted), so the tables are a deterministic function of
    the weights; kept under `estimator.parameters_key()` (the last `FACTORIZED_CACHE_SIZE`
    sets), so they are computed once per weights, and again after the weights change.
    """
    key = estimator.parameters_key()
    if key in _factorized_cache:
        _factorized_cache.move_to_end(key)
        return _factorized_cache[key]
    tables = _sample_factorized_tables(estimator)
    _factorized_cache[key] = tables
    if len(_factorized_cache) > FACTORIZED_CACHE_SIZE:
        _factorized_cache.popitem(last=False)
    return tables


@torch.no_grad()
def _sample_factorized_tables(estimator: FactorizedDistribution) -> SymbolTables:
    channels = estimator.channels
    device = estimator.device

    def cdf(values: Tensor) -> Tensor:  # values (K,) -> (C, K)
        grid = values.to(device, torch.float64).view(1, 1, 1, -1).expand(1, channels, 1, -1)
        return estimator.cdf(grid)[0, :, 0, :].cpu()

    candidates = torch.arange(2, 51, dtype=torch.float64)
    below = cdf(-candidates) < 1e-4  # (C, 49): tail below -i is small
    above = cdf(candidates) > 0.9999
    first = lambda mask: torch.where(mask.any(1), candidates[mask.int().argmax(1)], torch.full((channels,), 50.0))
    lows, highs = first(below).long(), first(above).long()
    span = torch.arange(-50, 51, dtype=torch.float64)
    upper, lower = cdf(span + 0.5), cdf(span - 0.5)
    tables = []
    for c in range(channels):
        lo, hi = int(lows[c]), int(highs[c])
        sel = slice(50 - lo, 50 + hi + 1)
        pmf = (upper[c, sel] - lower[c, sel]).numpy()
        tail = float(lower[c, 50 - lo] + 1 - upper[c, 50 + hi])
        tables.append(SymbolTable(-lo, quantize_pmf(pmf, tail)))
    return SymbolTables(tables)


def _escape_excess(symbols: np.ndarray, lowest: np.ndarray, highest: np.ndarray) -> np.ndarray:
    """Zig-zag excess of escaped symbols beyond their tables' ranges: above -> even, below -> odd (uint64).

    Args:
        symbols, lowest, highest: (N,) int64 escaped symbols and their tables' ranges.
    """
    above = symbols > highest
    excess = np.where(above, symbols - highest - 1, lowest - 1 - symbols).astype(np.uint64)
    return excess * 2 + (~above).astype(np.uint64)


def _from_excess(excess: np.ndarray, table: SymbolTable) -> np.ndarray:
    below = (excess & 1).astype(bool)
    half = (excess >> 1).astype(np.int64)
    return np.where(below, table.lowest - 1 - half, table.highest + 1 + half)


def _bit_lengths(values: np.ndarray) -> np.ndarray:
    lengths = np.zeros(values.shape, dtype=np.int32)
    remaining = values.copy()
    while remaining.any():
        nonzero = remaining > 0
        lengths += nonzero
        remaining >>= np.uint64(1)
    return lengths


def _piece_sizes(lengths: np.ndarray, piece: int) -> np.ndarray:
    """Alphabet size of piece `piece` (0 = low 16 bits) of values with the given bit lengths."""
    bits = np.clip(lengths - piece * _PIECE_BITS, 0, _PIECE_BITS)
    return (1 << bits).astype(np.int32)


@dataclass(frozen=True)
class _Groups:
    """The symbols of one `push` or `pull`, ordered by table index (stable), cut into one group per table.

    Attributes:
        order: (N,) positions of the symbols in group order (a stable argsort of the table indices).
        table_ids: (N,) the table indices in group order.
        bounds: (G + 1,) group g is the symbols order[bounds[g]:bounds[g + 1]].
        spans: per group g, (its table index, bounds[g], bounds[g + 1]); table indices increase.
    """

    order: np.ndarray
    table_ids: np.ndarray
    bounds: np.ndarray
    spans: list[tuple[int, int, int]]

    @classmethod
    def of(cls, table_ids: np.ndarray) -> _Groups:
        """Group (N,) int64 table indices."""
        small = table_ids.size and 0 <= table_ids.min() and table_ids.max() < 2**16
        order = np.argsort(table_ids.astype(np.uint16) if small else table_ids, kind="stable")  # radix sort when small
        ordered = table_ids[order]
        starts = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
        bounds = np.concatenate(([0], starts, [len(ordered)])) if len(ordered) else np.zeros(1, dtype=np.int64)
        spans = list(zip(ordered[bounds[:-1]].tolist(), bounds[:-1].tolist(), bounds[1:].tolist()))
        return cls(order, ordered, bounds, spans)


@dataclass(frozen=True)
class _Push:
    """What `ChunkWriter.push` keeps of one call, ready to code.

    Attributes:
        tables: the tables the call named.
        spans: the groups (`_Groups.spans`).
        slots: (N,) int32 slot of every symbol, in group order.
        escapes: group index -> the zig-zag excess (uint64) of its escaped symbols, in order;
            only groups with escapes.
    """

    tables: SymbolTables
    spans: list[tuple[int, int, int]]
    slots: np.ndarray
    escapes: dict[int, np.ndarray]


class ChunkWriter:
    """Collects the symbols of one chunk (e.g. one frame) and codes them when asked for its bytes.

    Attributes (set by `finish`):
        ideal_bits: the ideal code length of the chunk (the escape floor choice, the table
            probabilities actually used, escapes included); its size matches it to within a
            few tens of bits.
        escape_count: how many symbols fell outside their table and took the escape.
        escape_floor: index into `ESCAPE_FLOORS` of the floor the chunk was coded with.
    """

    def __init__(self) -> None:
        self._pushes: list[_Push] = []
        self._floor_lengths = np.zeros(len(ESCAPE_FLOORS))  # ideal bits of the slots so far under each floor
        self.ideal_bits = 0.0
        self.escape_count = 0
        self.escape_floor = 0

    def push(self, symbols: np.ndarray, table_ids: np.ndarray, tables: Sequence[SymbolTable]) -> None:
        """Add integer `symbols` (1-D), symbol k coded with table `tables[table_ids[k]]`.

        Raises:
            InputError: a symbol outside the int32 range (what a NaN or infinite latent becomes).
        """
        tables = _as_tables(tables)
        table_ids = np.asarray(table_ids, dtype=np.int64)
        symbols = np.asarray(symbols, dtype=np.int64)
        if symbols.size and (symbols.min() < -(2**31) or symbols.max() >= 2**31):
            raise InputError(
                f"a latent symbol ({symbols.min()} .. {symbols.max()}) is outside the int32 range the coder takes: the "
                "network produced NaN, infinite or huge latents; check the weights and that the frames are finite"
            )
        groups = _Groups.of(table_ids)
        symbols = symbols[groups.order]
        ids = groups.table_ids
        lowest, escape = tables.lowest[ids], tables.escape[ids]  # escape slot = count of regular slots
        offsets = symbols - lowest
        escaped = offsets.view(np.uint64) >= escape  # below lowest (negative) or above highest
        slots = np.where(escaped, escape, offsets)
        counts = np.bincount(tables.slot_offsets[ids] + slots, minlength=int(tables.slot_offsets[-1]))
        used = np.flatnonzero(counts)
        self._floor_lengths += (tables.floor_costs[:, used] * counts[used]).sum(axis=1)
        where = np.flatnonzero(escaped)
        excess = _escape_excess(symbols[where], lowest[where], lowest[where] + escape[where] - 1)
        escape_groups, first = np.unique(np.searchsorted(groups.bounds, where, "right") - 1, return_index=True)
        escapes = dict(zip(escape_groups.tolist(), np.split(excess, first[1:])))
        self._pushes.append(_Push(tables, groups.spans, slots.astype(np.int32), escapes))

    def _cheapest_floor(self) -> int:
        """Index of the escape floor under which the tables' ideal length of the chunk is shortest."""
        return int(np.argmin(self._floor_lengths))

    def finish(self) -> bytes:
        """Code the chunk: its escape floor, then every group in the order pushed; return the bytes."""
        encoder = constriction.stream.queue.RangeEncoder()
        self.escape_floor = self._cheapest_floor()
        encoder.encode(np.array([self.escape_floor], dtype=np.int32), constriction.stream.model.Uniform(len(ESCAPE_FLOORS)))
        self.ideal_bits = math.log2(len(ESCAPE_FLOORS)) + float(self._floor_lengths[self.escape_floor])
        for push in self._pushes:
            floored = push.tables.floored(self.escape_floor)
            for group, (table_id, start, stop) in enumerate(push.spans):
                encoder.encode(push.slots[start:stop], floored[table_id].model)
                if group in push.escapes:
                    self._code_escapes(encoder, push.escapes[group])
        return encoder.get_compressed().tobytes()

    def _code_escapes(self, encoder: constriction.stream.queue.RangeEncoder, excess: np.ndarray) -> None:
        lengths = _bit_lengths(excess)
        encoder.encode(lengths, constriction.stream.model.Uniform(_ESCAPE_LENGTH_SIZE))
        self.ideal_bits += excess.size * math.log2(_ESCAPE_LENGTH_SIZE) + float(lengths.sum())
        self.escape_count += excess.size
        for piece in range(2):
            sizes = _piece_sizes(lengths, piece)
            coded = sizes > 1
            if coded.any():
                values = ((excess >> np.uint64(piece * _PIECE_BITS)) & np.uint64(0xFFFF)).astype(np.int32)
                encoder.encode(values[coded], constriction.stream.model.Uniform(), sizes[coded])


class ChunkReader:
    """Decodes the symbols of one chunk in the order they were pushed.

    Any chunk can be read: bytes that no `ChunkWriter` wrote raise `BitstreamError` (or
    decode to some symbols), never another exception.
    """

    def __init__(self, data: bytes) -> None:
        if len(data) % 4:
            raise BitstreamError(
                f"a coded chunk must be a whole number of 32-bit words, got {len(data)} bytes; the stream is corrupt"
            )
        self._decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(data, dtype=np.uint32).copy())
        self._floor_index = int(self._decode(constriction.stream.model.Uniform(len(ESCAPE_FLOORS)), 1)[0])

    def _decode(self, *args: object) -> np.ndarray:
        """The range decoder's `decode(*args)`; its errors on data no encoder wrote become BitstreamError."""
        try:
            return self._decoder.decode(*args)
        except (ValueError, RuntimeError, AssertionError) as err:  # constriction asserts on invalid data
            raise BitstreamError(f"the entropy decoder failed ({err}); the stream is corrupt") from err

    def pull(self, table_ids: np.ndarray, tables: Sequence[SymbolTable]) -> np.ndarray:
        """Decode len(table_ids) symbols, symbol k with table `tables[table_ids[k]]` (int64)."""
        groups = _Groups.of(np.asarray(table_ids, dtype=np.int64))
        tables = _as_tables(tables)
        floored = tables.floored(self._floor_index)
        slots = np.empty(len(groups.order), dtype=np.int64)  # in group order
        escapes = []  # (positions in group order, table, excess) of the groups with escapes
        for table_id, start, stop in groups.spans:
            table = floored[table_id]
            group = self._decode(table.model, stop - start)
            slots[start:stop] = group
            if group.max() == table.escape:  # the escape is the last slot
                where = start + np.flatnonzero(group == table.escape)
                escapes.append((where, table, self._pull_escapes(len(where))))
        ordered = slots + tables.lowest[groups.table_ids]
        for where, table, excess in escapes:
            ordered[where] = _from_excess(excess, table)
        out = np.empty_like(ordered)
        out[groups.order] = ordered
        return out

    def _pull_escapes(self, count: int) -> np.ndarray:
        lengths = self._decode(constriction.stream.model.Uniform(_ESCAPE_LENGTH_SIZE), count).astype(np.int32)
        excess = np.zeros(count, dtype=np.uint64)
        for piece in range(2):
            sizes = _piece_sizes(lengths, piece)
            coded = sizes > 1
            if coded.any():
                values = self._decode(constriction.stream.model.Uniform(), sizes[coded]).astype(np.uint64)
                excess[coded] |= values << np.uint64(piece * _PIECE_BITS)
        return excess
