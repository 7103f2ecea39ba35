"""The one-line help of every `lvc-zoo` subcommand, importable without torch.

`lvc-zoo --help` lists the subcommands from here and imports a subcommand's module only when
that subcommand runs (`lvc_zoo.cli.main`); each module takes its HELP from this table.
"""

from __future__ import annotations

__all__ = ["COMMAND_HELP"]

COMMAND_HELP = {
    "list": "the models, their qualities, papers and weights",
    "convert": "official checkpoints -> an lvc_zoo weights directory",
    "encode": "code a video (.yuv, .y4m, PNG folder, .mp4, ...) into an lvc_zoo bitstream",
    "decode": "decode an lvc_zoo bitstream into .yuv, .y4m, a PNG folder or .mp4/.mkv",
    "demo": "code a short synthetic clip into a file, decode it, and print bits, kbps, RGB PSNR and time per "
    "frame and quality, beside x264 on the same frames",
    "eval": "rate-distortion evaluation under the DCVC test conditions (bpp, PSNR, MS-SSIM, time) into DCVC-layout JSON",
    "bdrate": "BD-rate of a results file against an anchor (per sequence, per dataset, average)",
    "bench": "parameters, MACs per frame, encode/decode time and peak memory of a model",
    "push": "upload a weights directory (lvc-zoo convert / save_pretrained) to the Hugging Face Hub",
    "export": (
        "turn a training checkpoint (lightning fit), or one per quality for a model trained per quality, into a weights "
        "directory that load() and push read"
    ),
    "fit": "train or fine-tune with a recipe: `lightning fit -c recipes/NAME.yaml` (see lvc-zoo fit --help)",
    "validate": "validate a checkpoint with a recipe's data: `lightning validate` (see lvc-zoo validate --help)",
    "test": "test a checkpoint with a recipe's data: `lightning test` (see lvc-zoo test --help)",
}
"""Subcommand -> its help line, in the order `--help` lists them."""
