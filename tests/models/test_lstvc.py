"""LSTVC / LSTVC+: the temporal prior's life cycle, PGMC, real bitstreams, one weights file per quality, training."""

from __future__ import annotations

import dataclasses
import sys
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch import LightningDataModule

import lvc_zoo
from lvc_zoo import registry
from lvc_zoo.cli.fit import ZooCLI
from lvc_zoo.cli.main import main as lvc_zoo_main
from lvc_zoo.coding.coders import Decode, Encode
from lvc_zoo.coding.entropy_coder import ChunkReader, ChunkWriter
from lvc_zoo.coding.estimate import Estimate
from lvc_zoo.data import VideoInfo, read_video, write_video
from lvc_zoo.errors import ConfigError, InputError, QualityError
from lvc_zoo.eval.bench import flop_counter
from lvc_zoo.layers import FlowGuidedDeformConv
from lvc_zoo.hub import save_pretrained
from lvc_zoo.models import LSTVC, LSTVCConfig, LSTVCPlus, VideoCodec
from lvc_zoo.models.lstvc import CONTEXT_DISTORTION, LSTVC_LAMBDAS, MOTION_PARAMETERS, default_recipe, default_stages
from lvc_zoo.training import TrainingRecipe, train_clip
from lvc_zoo.training.cascade import LOSS_TERM

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from training_testing import changed, clips, fit, parameters  # noqa: E402

SMALL = LSTVCConfig.small()
RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def small_codec(quality: int = 3, seed: int = 0) -> LSTVC:
    torch.manual_seed(seed)
    return LSTVC(SMALL, quality=quality).eval()


@pytest.fixture(scope="module")
def trained() -> dict[int, LSTVC]:
    """Stand-ins for four separately trained qualities (different initialisations)."""
    return {q: small_codec(q, seed=10 + q) for q in range(4)}


def clip(frames: int = 3, height: int = 64, width: int = 64, seed: int = 0) -> torch.Tensor:
    """A pan: each frame is the previous one moved by two pixels."""
    base = torch.rand(3, height, width + 2 * frames, generator=torch.Generator().manual_seed(seed))
    return torch.stack([base[:, :, 2 * t : 2 * t + width] for t in range(frames)])


@pytest.fixture(scope="module")
def codec() -> LSTVC:
    return small_codec()


def test_registry_rate_and_variants() -> None:
    assert {"lstvc", "lstvc_plus"} <= set(lvc_zoo.list_models())
    for name, cls, config in (("lstvc", LSTVC, LSTVCConfig()), ("lstvc_plus", LSTVCPlus, LSTVCConfig.plus())):
        spec = registry.get_spec(name)
        assert spec.builder is cls and spec.config == config and spec.rate.weights_per_quality
        assert spec.rate.lambdas == LSTVC_LAMBDAS == (256.0, 512.0, 1024.0, 2048.0) and spec.rate.default_quality == 3
    assert registry.get_spec("lstvc+").name == "lstvc_plus" and LSTVCPlus().model_name == "lstvc_plus"
    plus = LSTVCConfig.plus()
    assert (plus.res_blocks, plus.latent_channels) == (2 * LSTVCConfig().res_blocks, 128)


def test_config_and_quality_checks_raise_lvc_zoo_errors() -> None:
    with pytest.raises(ConfigError, match="multiple of 4"):
        LSTVCConfig(latent_channels=30)
    with pytest.raises(ConfigError, match="dcn_groups"):
        LSTVCConfig(ch_2x=100)
    with pytest.raises(ConfigError, match="odd"):
        LSTVCConfig(dcn_kernel=4)
    with pytest.raises(QualityError):
        LSTVC(SMALL, quality=4)


def test_pgmc_and_prior_encoders_shapes(codec: LSTVC) -> None:
    inter = codec.inter
    feature = torch.rand(1, SMALL.ch_1x, 64, 128)
    (c4, c2, c1), context = inter.pgmc(feature, torch.randn(1, 2, 64, 128))
    assert c4.shape == (1, SMALL.ch_4x, 16, 32) and c2.shape == (1, SMALL.ch_2x, 32, 64) and c1.shape == (1, SMALL.ch_1x, 64, 128)
    assert context.shape == (1, SMALL.ch_1x, 64, 128)
    prior = torch.rand(1, SMALL.prior_channels, 16, 32)
    assert inter.motion_prior_encoder(prior).shape == (1, SMALL.mv_channels, 4, 8)
    assert inter.hybrid_prior_encoder(context, prior).shape == (1, SMALL.latent_channels, 4, 8)


@pytest.mark.slow
def test_compress_decompress_is_exact_and_pads_to_64(codec: LSTVC) -> None:
    frames = clip(3, 64, 80)  # padded to 64 x 128
    estimated = codec.estimate(frames)
    data = codec.compress(frames)
    assert torch.equal(codec.decompress(data), estimated.recon)
    assert estimated.recon.shape == frames.shape
    assert set(estimated.components) == {"y", "z", "mv_y", "mv_z"} and estimated.components["mv_y"][0] == 0
    with pytest.raises(InputError, match="multiples of 64"):
        codec.inter.code(frames[1:2], codec.inter.start(frames[:1], 0), 3, Estimate())


def test_the_prior_is_made_once_per_gop_and_updated_in_the_papers_order(codec: LSTVC) -> None:
    inter = codec.inter
    calls: list[str] = []
    watched = {
        "initialise": inter.temporal_prior.initial, "supplement": inter.temporal_prior.extract, "motion": inter.mv_encoder,
        "pgmc": inter.pgmc, "align": inter.temporal_prior.refine, "contextual": inter.contextual_encoder,
    }
    hooks = [module.register_forward_hook(lambda *_, name=name: calls.append(name)) for name, module in watched.items()]
    try:
        codec.estimate(clip(5), intra_period=3)  # I P P I P
    finally:
        for hook in hooks:
            hook.remove()
    first_p = ["initialise", "motion", "pgmc", "align", "contextual"]
    later_p = ["supplement", "motion", "pgmc", "align", "contextual"]
    assert calls == first_p + later_p + first_p


def test_encoder_and_decoder_hold_the_same_prior_from_decoded_data(codec: LSTVC) -> None:
    frames = clip(3)
    size = (64, 64)
    encoded, dpb = [], None
    with torch.inference_mode():
        for index in range(3):
            coder = Encode(ChunkWriter())
            _, dpb = codec.code_frame(frames[index : index + 1], "P" if index else "I", dpb, size, 3, {"frame": coder}, index)
            encoded.append((coder.writer.finish(), dpb.temporal_prior))
        dpb = None
        for index, (payload, encoder_prior) in enumerate(encoded):
            _, dpb = codec.code_frame(None, "P" if index else "I", dpb, size, 3, {"frame": Decode(ChunkReader(payload))}, index)
            assert (encoder_prior is None) == (index == 0)
            assert index == 0 or torch.equal(dpb.temporal_prior, encoder_prior)


@pytest.mark.slow
def test_one_weights_file_per_quality_through_load_and_the_cli(
    trained: dict[int, LSTVC], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = save_pretrained(trained, tmp_path / "lstvc")
    codec = lvc_zoo.load("lstvc", quality=2, weights=directory)
    expected = trained[2].state_dict()
    assert codec.quality == 2 and all(torch.equal(value, expected[key]) for key, value in codec.state_dict().items())
    assert lvc_zoo.load("lstvc", weights=directory).quality == 3  # the stated default
    with pytest.raises(QualityError):
        codec.compress(clip(2), quality=1)

    source = write_video(tmp_path / "clip.y4m", clip(3), VideoInfo.of(clip(3), fps=25))
    stream = tmp_path / "clip.lvc"
    args = ["encode", str(source), "-o", str(stream), "--model", "lstvc", "--quality", "1", "--weights", str(directory), "--quiet"]
    assert lvc_zoo_main(args) == 0
    decoded = tmp_path / "decoded.y4m"
    assert lvc_zoo_main(["decode", str(stream), "-o", str(decoded), "--weights", str(directory), "--quiet"]) == 0
    capsys.readouterr()
    frames, _ = read_video(source)
    recon = trained[1].estimate(frames).recon
    reference = write_video(tmp_path / "reference.y4m", recon, VideoInfo.of(recon, fps=25))
    assert decoded.read_bytes() == reference.read_bytes()  # quality 1's file decoded what quality 1's encoded


@pytest.mark.slow
def test_export_gathers_one_checkpoint_per_quality(
    trained: dict[int, LSTVC], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Four runs' checkpoints (LightningCLI's YAML form of the init args) -> one directory load() reads."""
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(SMALL).items()}
    paths = []
    for quality in (2, 0, 3, 1):
        hyper = {"_class_path": "lvc_zoo.models.LSTVC", "config": config, "quality": quality}
        paths.append(tmp_path / f"q{quality}.ckpt")
        torch.save({"state_dict": trained[quality].state_dict(), "hyper_parameters": hyper}, paths[-1])
    out = tmp_path / "gathered"
    assert lvc_zoo_main(["export", *map(str, paths), "--model", "lstvc", "-o", str(out)]) == 0
    assert "qualities 0, 1, 2, 3" in capsys.readouterr().out
    for quality in (0, 3):
        loaded = lvc_zoo.load("lstvc", quality=quality, weights=out).state_dict()
        assert all(torch.equal(value, trained[quality].state_dict()[key]) for key, value in loaded.items())
    assert lvc_zoo_main(["export", str(paths[0]), str(paths[0]), "--model", "lstvc", "-o", str(tmp_path / "twice")]) == 2
    assert "two checkpoints trained quality 2" in capsys.readouterr().err


def test_the_warm_up_trains_the_motion_path_on_the_rate_compensation_loss() -> None:
    codec = small_codec(1).train()
    warm_up = default_stages()[1]
    assert warm_up.loss == "compensation" and warm_up.loss_terms == {CONTEXT_DISTORTION: 1.0}
    kept: dict[str, torch.Tensor] = {}
    losses: list[torch.Tensor] = []

    def step(loss: torch.Tensor) -> None:
        losses.append(loss.detach())
        loss.backward()

    original = Estimate.__init__

    def keeping(self: Estimate, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)
        self.kept = kept

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Estimate, "__init__", keeping)
        train_clip(codec, clip(2).unsqueeze(0), 1, 512.0, warm_up, TrainingRecipe(stages=[warm_up], frame_weights=[1.0]), step)
    d = kept[LOSS_TERM + CONTEXT_DISTORTION]
    d = d.detach()
    assert d.ndim == 0 and d > 0
    grads = {name: p.grad for name, p in codec.named_parameters()}
    assert all(grads[n] is None for n in grads if n.startswith(("inter.contextual_", "inter.y_", "inter.reconstruction.")))
    assert not any(fnmatchcase("inter.feature_extractor.0.weight", glob) for glob in MOTION_PARAMETERS)  # the target stays put
    assert any(grads[n] is not None and grads[n].abs().sum() > 0 for n in grads if n.startswith("inter.pgmc."))
    assert any(grads[n] is not None and grads[n].abs().sum() > 0 for n in grads if n.startswith("inter.mv_encoder."))
    assert losses and float(losses[0]) > 512.0 * float(d) * 0.999  # lambda * d + R_mv / pixels


@pytest.mark.slow
@pytest.mark.parametrize(("name", "cls", "config"), [("lstvc", LSTVC, LSTVCConfig()), ("lstvc_plus", LSTVCPlus, LSTVCConfig.plus())])
def test_each_recipe_builds_its_full_size_model_without_a_step(
    name: str, cls: type, config: LSTVCConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    recipe = RECIPES / f"{name}.yaml"
    cli = ZooCLI(VideoCodec, LightningDataModule, subclass_mode_model=True, subclass_mode_data=True, run=False,
                 args=["-c", str(recipe), "--trainer.logger", "false"])
    model = cli.model
    assert type(model) is cls and model.config == config and model.quality == 3 and model.trained_qualities == (3,)
    assert model.recipe == default_recipe()
    assert [(s.name, s.loss, s.schedule) for s in model.recipe.stages] == [
        ("intra", "intra", "cosine"), ("compensation", "compensation", "cosine"), ("all", "all", "cosine"),
    ]
    assert sum(s.steps for s in model.recipe.stages[1:]) == 700_000  # the paper's iterations after the I-frame stage
    assert yaml.safe_load(recipe.read_text())["data"]["init_args"]["crop"] == 256


@pytest.mark.slow
def test_a_run_trains_only_its_quality_through_both_phases() -> None:
    torch.manual_seed(0)
    stages = [dataclasses.replace(stage, steps=2, frames=3) for stage in default_stages()[1:]]
    model = LSTVC(SMALL, recipe=TrainingRecipe(lambdas=list(LSTVC_LAMBDAS), stages=stages, frame_weights=[1.0]), quality=1)
    drawn: list[float] = []
    with pytest.MonkeyPatch.context() as patch:
        original = model.recipe.lambda_of
        patch.setattr(model.recipe, "lambda_of", lambda rate, quality: drawn.append(quality) or original(rate, quality))
        before = parameters(model)
        fit(model, clips(1, 3), max_steps=4)
    assert drawn and set(drawn) == {1}
    moved = changed(before, model)
    assert any(n.startswith("inter.pgmc.") for n in moved) and any(n.startswith("inter.contextual_encoder.") for n in moved)
    assert not any(n.startswith("intra.") for n in moved)


def test_bench_counts_the_deformable_convolutions_as_convolutions() -> None:
    layer = FlowGuidedDeformConv(8, 10, 4, groups=2, kernel=3)
    with torch.inference_mode(), flop_counter() as counter:
        layer(torch.rand(1, 8, 16, 16), torch.rand(1, 10, 16, 16), torch.rand(1, 2, 16, 16))
    convolutions = sum(2 * 16 * 16 * conv.out_channels * conv.in_channels * 9 for conv in layer.offset_net[::2])
    assert counter.get_total_flops() == convolutions + 2 * 16 * 16 * 8 * 8 * 9  # the offset net + the deformable conv
