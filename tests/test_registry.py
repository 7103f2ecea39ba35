"""The model table: names, aliases, suggestions, quality checks, uniqueness."""

from __future__ import annotations

import dataclasses

import pytest

import lvc_zoo
from lvc_zoo.errors import ConfigError, QualityError, UnknownModelError
from lvc_zoo.models import DCVCDC, DCVCDCConfig
from lvc_zoo.registry import MODELS, ModelSpec, get_spec, index_specs, list_models, weights_label


def test_list_models_names_every_entry_sorted() -> None:
    assert lvc_zoo.list_models() == list_models() == sorted(spec.name for spec in MODELS)
    assert "dcvc_dc" in list_models()


def test_dcvc_dc_entry() -> None:
    spec = get_spec("dcvc_dc")
    assert spec.builder is DCVCDC
    assert spec.config == DCVCDCConfig()
    assert spec.qualities == (0, 1, 2, 3)
    assert spec.hub_repo is None and not spec.has_published_weights and dict(spec.files) == {}
    assert spec.licence == "MIT" and "CVPR 2023" in spec.paper


@pytest.mark.parametrize("name", ["dcvc_dc", "dcvc-dc", "DCVC-DC"])
def test_aliases_and_case_resolve_to_one_spec(name: str) -> None:
    assert get_spec(name) is get_spec("dcvc_dc")


def test_specs_are_frozen() -> None:
    spec = get_spec("dcvc_dc")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.files["model.safetensors"] = "0" * 64  # type: ignore[index]


@pytest.mark.slow
def test_registry_qualities_match_the_built_model() -> None:
    for spec in MODELS:
        assert spec.builder(spec.config).qualities == spec.rate.qualities == spec.qualities
        assert spec.class_name == spec.builder.__name__


def test_a_declared_quality_range_the_rate_disagrees_with_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"declares qualities \(0, 1\), but its rate has \(0, 1, 2, 3\)"):
        ModelSpec(name="x", model="lvc_zoo.models.dcvc_dc:DCVCDC", qualities=(0, 1)).rate
    with pytest.raises(ConfigError, match="must read 'package.module:Class'"):
        ModelSpec(name="x", model="lvc_zoo.models.DCVCDC")
    with pytest.raises(ConfigError, match="cannot import 'lvc_zoo.models.dcvc_dc:Nope'"):
        ModelSpec(name="x", model="lvc_zoo.models.dcvc_dc:Nope").builder
    with pytest.raises(ConfigError, match="has no preset 'huge'"):
        ModelSpec(name="x", model="lvc_zoo.models.dcvc_dc:DCVCDC", preset="huge").config


def test_unknown_name_suggests_close_names() -> None:
    with pytest.raises(UnknownModelError, match=r"Unknown model 'dcvc_dx'\. Did you mean 'dcvc_dc'[,?]") as info:  # closest first
        get_spec("dcvc_dx")
    assert isinstance(info.value, KeyError)
    with pytest.raises(UnknownModelError, match="Available: dcvc_dc"):
        lvc_zoo.load("no_such_codec")


@pytest.mark.parametrize("quality", [-1, 4, 2.0, True, "3"])
def test_load_rejects_bad_quality_with_the_range_before_building(quality: object, monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_build(*args: object) -> None:
        raise AssertionError("the model was built before the quality was checked")

    monkeypatch.setattr(DCVCDC, "__init__", must_not_build)
    with pytest.raises(QualityError, match=r"out of range for 'dcvc_dc': use an integer in 0\.\.3"):
        lvc_zoo.load("dcvc_dc", quality, pretrained=False)


def test_load_random_init_sets_quality_name_and_eval_mode() -> None:
    codec = lvc_zoo.load("dcvc-dc", 1, pretrained=False)
    assert type(codec) is DCVCDC
    assert codec.quality == 1 and codec.model_name == "dcvc_dc" and not codec.training


def test_weights_with_pretrained_false_is_rejected(tmp_path) -> None:
    with pytest.raises(ConfigError, match="pretrained=False"):
        lvc_zoo.load("dcvc_dc", pretrained=False, weights=tmp_path)


def _spec(name: str, aliases: tuple[str, ...] = ()) -> ModelSpec:
    return ModelSpec(name=name, model=DCVCDC, aliases=aliases)


def test_index_rejects_duplicate_names_and_aliases() -> None:
    assert set(index_specs([_spec("a", ("a-x",)), _spec("b")])) == {"a", "a-x", "b"}
    with pytest.raises(ConfigError, match="'a' is used by both 'a' and 'a'"):
        index_specs([_spec("a"), _spec("a")])
    with pytest.raises(ConfigError, match="'b' is used by both 'a' and 'b'"):
        index_specs([_spec("a", ("b",)), _spec("b")])
    with pytest.raises(ConfigError, match="lower case"):
        index_specs([_spec("A")])


def test_spec_rejects_a_config_of_another_class() -> None:
    with pytest.raises(ConfigError, match="takes a DCVCDCConfig"):
        ModelSpec(name="x", model=DCVCDC, preset={"ch_1x": 48}).config


def test_weights_label_names_each_kind_of_weights() -> None:
    tiny, dcvc_dc = get_spec("dcvc_dc_tiny"), get_spec("dcvc_dc")
    digest = tiny.files["model.safetensors"]
    assert weights_label(tiny) == f"bundled lvc_zoo/weights/dcvc_dc_tiny (model.safetensors sha256:{digest})"
    assert weights_label(tiny, "runs/tiny/weights") == "runs/tiny/weights"
    assert weights_label(dcvc_dc, "hf-hub:org/name@v1") == "hf-hub:org/name@v1"
    assert weights_label(dcvc_dc, random_init="seed 0") == "random initialisation (seed 0)"
    published = dataclasses.replace(dcvc_dc, hub_repo="org/dcvc-dc", revision="a" * 40, files={"model.safetensors": "0" * 64})
    assert weights_label(published) == f"hf-hub:org/dcvc-dc@{'a' * 40} (registry default)"
    assert weights_label(dataclasses.replace(published, revision=None)) == "hf-hub:org/dcvc-dc@main (registry default)"
    with pytest.raises(ConfigError, match="no published weights to name: pass the weights used"):
        weights_label(dcvc_dc)
    with pytest.raises(ConfigError, match="drop one of the two"):
        weights_label(dcvc_dc, "dir", random_init="seed 0")
