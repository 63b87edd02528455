"""``leakview convert IN --out bundle.pt``: any accepted model form -> one leakview bundle."""

from __future__ import annotations

import argparse
from pathlib import Path

from leakview.cli import CommandError
from leakview.commands import argtypes


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "convert", help="write any accepted model form as a leakview bundle (one safe file)",
        description="Load IN (a bare state_dict, a training checkpoint, safetensors, a timm "
                    "or Hugging Face model, ...; described by the flags below where it does "
                    "not describe itself) and write it as a leakview bundle: one file with the "
                    "weights, architecture, classes, input size and normalisation, read back "
                    "without running pickled code. The bundle is loaded back and must give the "
                    "model's logits on a probe input before it is kept. ONNX graphs, and "
                    "TorchScript or torch.export archives of an unknown architecture, cannot "
                    "be converted: convert the weights they were made from.")
    parser.add_argument("model", metavar="IN", help="model file or Hugging Face folder")
    parser.add_argument("--out", required=True, help="bundle to write (.pt)")
    parser.add_argument("--force", action="store_true", help="replace an existing --out file")
    parser.add_argument("--device", type=argtypes.device,
                        help="cpu, cuda, cuda:1 ... (default: cpu)")
    argtypes.add_model_spec_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from leakview.models import ModelLoadError
    from leakview.models.convert import to_bundle

    out = Path(args.out)
    if out.exists() and not args.force:
        raise CommandError(f"{out}: already exists (pass --force to replace it)")
    model = argtypes.load_described_model(args, args.device or "cpu")
    try:
        written = to_bundle(model, out, overwrite=args.force)
    except ModelLoadError as error:
        raise CommandError(str(error)) from None
    except OSError as error:
        raise CommandError(f"{out}: cannot write ({error})") from None
    height, width = model.input_size
    print(f"{written}: bundle of {model.arch} ({model.num_classes} classes, {height} x {width}, "
          f"{model.channels} channel{'s' if model.channels != 1 else ''}) from the "
          f"{model.kind} {args.model}; it loads back with the same logits")
    return 0
