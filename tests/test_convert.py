"""`lvc_zoo.convert_official`: official DCVC-DC checkpoints -> strict-loadable DCVCDC state_dicts.

The official key sets and shapes come from the reference specs (spec_i.json / spec_p.json in
$LVC_ZOO_REFERENCE or <repo>/../shared/reference); values are seeded random tensors, so the
tests need neither the authors' checkpoints nor the official code. Without the specs the
tests skip, or fail when LVC_ZOO_REQUIRE_REFERENCE=1.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import torch

import lvc_zoo
from lvc_zoo.convert.dcvc_dc import DROPPED_INTER, DROPPED_INTRA, INTER_RULES, INTRA_RULES
from lvc_zoo.errors import ConversionError, UnknownModelError
from lvc_zoo.models import DCVCDC
from lvc_testing import require_reference

def spec_paths() -> tuple[Path, Path]:
    """The official DCVC-DC I and P specs (skips, or fails in CI, when the reference is absent)."""
    folder = require_reference("dcvc_dc")
    return folder / "spec_i.json", folder / "spec_p.json"


def official_state(spec_path: Path, seed: int) -> dict[str, torch.Tensor]:
    """An official-format state_dict: the spec's keys and shapes, seeded standard-normal values."""
    tensors = json.loads(spec_path.read_text())["tensors"]
    g = torch.Generator().manual_seed(seed)
    return {key: torch.randn(entry["shape"], generator=g) for key, entry in tensors.items()}


@pytest.fixture(scope="module")
def official() -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(intra, inter) official-format state_dicts; tests must copy before modifying."""
    spec_i, spec_p = spec_paths()
    return official_state(spec_i, seed=1), official_state(spec_p, seed=2)


@pytest.fixture(scope="module")
def converted(official) -> dict[str, torch.Tensor]:
    intra, inter = official
    return lvc_zoo.convert_official("dcvc_dc", intra=intra, inter=inter)


def assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def fingerprint(t: torch.Tensor) -> tuple[tuple[int, ...], str]:
    return tuple(t.shape), hashlib.sha1(t.detach().contiguous().numpy().tobytes()).hexdigest()


class Payload:
    """A pickled object whose unpickling would call `_mark_unpickled`: must never run."""

    def __reduce__(self):
        return (_mark_unpickled, ())


UNPICKLED: list[bool] = []


def _mark_unpickled() -> None:
    UNPICKLED.append(True)


# ------------------------------------------------------------------------------- success paths
@pytest.mark.slow
def test_plain_dicts_convert_and_load_strict_into_dcvcdc(converted) -> None:
    model = DCVCDC()
    result = model.load_state_dict(converted, strict=True)
    assert type(model) is DCVCDC
    assert not result.missing_keys and not result.unexpected_keys
    for key, value in model.state_dict().items():
        assert torch.equal(value, converted[key]), key


def test_converted_state_loads_into_registry_model(converted) -> None:
    model = lvc_zoo.load("dcvc_dc", pretrained=False)
    model.load_state_dict(converted, strict=True)
    assert type(model) is DCVCDC


@pytest.mark.parametrize("wrapper", ["state_dict", "net"])
def test_wrapped_dicts_give_identical_result(official, converted, wrapper: str) -> None:
    intra, inter = official
    assert_same_state(lvc_zoo.convert_official("dcvc_dc", intra={wrapper: intra}, inter={wrapper: inter}), converted)


@pytest.mark.slow
def test_module_prefixes_give_identical_result(official, converted) -> None:
    intra, inter = official
    prefixed = [{f"module.{k}": v for k, v in state.items()} for state in (intra, inter)]
    assert_same_state(lvc_zoo.convert_official("dcvc_dc", intra=prefixed[0], inter=prefixed[1]), converted)
    wrapped = lvc_zoo.convert_official("dcvc_dc", intra={"state_dict": prefixed[0]}, inter={"net": prefixed[1]})
    assert_same_state(wrapped, converted)


@pytest.mark.slow
def test_paths_saved_with_torch_save_load_and_equal(official, converted, tmp_path: Path) -> None:
    intra, inter = official
    torch.save({"state_dict": intra}, tmp_path / "intra.pth.tar")
    torch.save(inter, tmp_path / "inter.pth.tar")
    from_str = lvc_zoo.convert_official("dcvc_dc", intra=str(tmp_path / "intra.pth.tar"), inter=str(tmp_path / "inter.pth.tar"))
    assert_same_state(from_str, converted)
    from_path = lvc_zoo.convert_official("dcvc_dc", intra=tmp_path / "intra.pth.tar", inter=tmp_path / "inter.pth.tar")
    assert_same_state(from_path, converted)


def test_converted_values_equal_inputs(official, converted) -> None:
    """Renames only: the converted tensors are the official ones, value for value, one to one."""
    intra, inter = official
    inputs = sorted(fingerprint(t) for t in [*intra.values(), *inter.values()])
    outputs = sorted(fingerprint(t) for t in converted.values())
    assert outputs == inputs
    assert all(t.dtype == torch.float32 for t in converted.values())


@pytest.mark.parametrize(
    ("side", "official_key", "zoo_key"),
    [
        ("intra", "q_scale_enc", "intra.q_enc.scale"),
        ("intra", "q_basic_dec", "intra.q_dec.basic"),
        ("intra", "hyper_enc.1.weight", "intra.hyperprior.encoder.1.weight"),
        ("intra", "y_spatial_prior_adaptor_1.weight", "intra.spatial_prior.adaptors.0.weight"),
        ("intra", "y_spatial_prior_adaptor_3.bias", "intra.spatial_prior.adaptors.2.bias"),
        ("inter", "optic_flow.moduleBasic.0.conv1.weight", "inter.flow.levels.0.conv1.weight"),
        ("inter", "optic_flow.moduleBasic.3.conv5.bias", "inter.flow.levels.3.conv5.bias"),
        ("inter", "feature_adaptor_I.weight", "inter.feature_adaptor_intra.weight"),
        ("inter", "feature_adaptor.2.weight", "inter.feature_adaptor.2.weight"),
        ("inter", "mv_y_prior_fusion_adaptor_0.block.0.conv1.0.weight", "inter.mv_prior_fusion.without_ref.block.0.conv1.0.weight"),
        ("inter", "y_prior_fusion_adaptor_1.block.0.conv1.0.weight", "inter.y_prior_fusion.with_ref.block.0.conv1.0.weight"),
        ("inter", "bit_estimator_z_mv.f1.h", "inter.mv_hyperprior.z_bits.f1.h"),
        ("inter", "bit_estimator_z.f4.b", "inter.hyperprior.z_bits.f4.b"),
        ("inter", "mv_y_q_scale_enc", "inter.mv_q_enc.scale"),
        ("inter", "y_q_basic_dec", "inter.y_q_dec.basic"),
        ("inter", "context_fusion_net.conv3_up.0.weight", "inter.context_fusion.conv3_up.0.weight"),
        ("inter", "recon_generation_net.recon_conv.weight", "inter.recon_generation.recon_conv.weight"),
    ],
)
def test_known_official_keys_map_to_their_zoo_keys(official, converted, side: str, official_key: str, zoo_key: str) -> None:
    state = official[0] if side == "intra" else official[1]
    if official_key not in state:
        pytest.fail(f"{official_key!r} is not in the official {side} spec; update this table")
    assert torch.equal(converted[zoo_key], state[official_key])


# ------------------------------------------------------------------------------- rules and drop lists
@pytest.mark.parametrize("side", ["intra", "inter"])
def test_every_official_key_is_renamed_or_dropped(official, side: str) -> None:
    state, rules, dropped = (official[0], INTRA_RULES, DROPPED_INTRA) if side == "intra" else (official[1], INTER_RULES, DROPPED_INTER)
    unmatched = [k for k in state if k not in dropped and not any(re.fullmatch(p, k) for p, _ in rules)]
    assert not unmatched, unmatched[:8]
    assert set(dropped) <= state.keys(), "a dropped key that the official checkpoint does not have is a stale entry"


def test_drop_lists_are_the_documented_ones() -> None:
    assert DROPPED_INTRA == () and DROPPED_INTER == (), (
        "DCVC-DC's official IntraNoAR and DMC register no buffers and the zoo uses every official "
        "parameter, so nothing may be dropped; a new entry must be documented in lvc_zoo/convert/dcvc_dc.py"
    )


# ------------------------------------------------------------------------------- refusals
def test_pickle_with_arbitrary_object_is_refused(official, tmp_path: Path) -> None:
    intra, inter = official
    path = tmp_path / "evil.pth.tar"
    torch.save({"state_dict": intra, "extra": Payload()}, path)
    UNPICKLED.clear()
    with pytest.raises(ConversionError, match="weights-only"):
        lvc_zoo.convert_official("dcvc_dc", intra=path, inter=inter)
    assert not UNPICKLED, "the pickled object was constructed: the checkpoint was not read with weights_only=True"


def test_missing_file_raises_conversion_error(official, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pth.tar"
    with pytest.raises(ConversionError, match="does not exist"):
        lvc_zoo.convert_official("dcvc_dc", intra=missing, inter=official[1])


def test_extra_unknown_official_key_raises_conversion_error_naming_it(official) -> None:
    intra, inter = official
    inter = {**inter, "mystery_module.weight": torch.zeros(3)}
    with pytest.raises(ConversionError, match=re.escape("mystery_module.weight")):
        lvc_zoo.convert_official("dcvc_dc", intra=intra, inter=inter)


def test_missing_key_raises_conversion_error(official) -> None:
    intra, inter = official
    inter = {k: v for k, v in inter.items() if k != "feature_adaptor_I.weight"}
    with pytest.raises(ConversionError, match="missing") as info:
        lvc_zoo.convert_official("dcvc_dc", intra=intra, inter=inter)
    assert "inter.feature_adaptor_intra.weight" in str(info.value)


def test_wrong_shape_raises_conversion_error(official) -> None:
    intra, inter = official
    intra = {**intra, "q_scale_enc": torch.ones(6, 1, 1, 1)}
    with pytest.raises(ConversionError, match="shape") as info:
        lvc_zoo.convert_official("dcvc_dc", intra=intra, inter=inter)
    assert "intra.q_enc.scale" in str(info.value)


def test_swapped_intra_and_inter_raise_conversion_error(official) -> None:
    intra, inter = official
    with pytest.raises(ConversionError, match="intra vs inter"):
        lvc_zoo.convert_official("dcvc_dc", intra=inter, inter=intra)


def test_non_tensor_entries_raise_conversion_error(official) -> None:
    intra, inter = official
    with pytest.raises(ConversionError, match="not tensors"):
        lvc_zoo.convert_official("dcvc_dc", intra={**intra, "epoch": 3}, inter=inter)


def test_unknown_model_name_raises_unknown_model_error() -> None:
    with pytest.raises(UnknownModelError, match="dcvc_dc"):
        lvc_zoo.convert_official("dcvc_xx", intra={}, inter={})


def test_hyphen_alias_is_accepted(official, converted) -> None:
    intra, inter = official
    assert_same_state(lvc_zoo.convert_official("DCVC-DC", intra=intra, inter=inter), converted)
