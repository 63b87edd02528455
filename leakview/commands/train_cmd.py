"""``leakview train DATA --arch NAME --out model.pt``: train a classifier on an ImageFolder tree."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from leakview.cli import CommandError
from leakview.commands import argtypes

if TYPE_CHECKING:  # imported for real inside run(): the CLI starts without torch
    from leakview.progress import ProgressBar
    from leakview.train import TrainProgress


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "train", help="train (or fine-tune) a torchvision classifier on an ImageFolder tree",
        description=("Train a torchvision classifier from scratch (or fine-tune --init) on "
                     "DATA/<class>/<image> and write a leakview model bundle. Ctrl-C stops "
                     "cleanly and keeps the best checkpoint so far."))
    parser.add_argument("data", type=argtypes.root,
                        help="ImageFolder tree: one sub-folder per class")
    parser.add_argument("--arch", default="mobilenet_v3_small",
                        help="torchvision classification model name (default: %(default)s)")
    parser.add_argument("--out", required=True, help="model bundle to write (.pt)")
    parser.add_argument("--epochs", type=int, default=10, help="default: %(default)s")
    parser.add_argument("--input-size", type=argtypes.input_side, nargs=2, metavar=("H", "W"),
                        default=(128, 128), help="model input size (default: 128 128)")
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    parser.add_argument("--device", type=argtypes.device,
                        help="cpu, cuda, cuda:1 ... (default: auto)")
    parser.add_argument("--val-split", type=float, default=0.15,
                        help="fraction held out for validation (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=64, help="default: %(default)s")
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    parser.add_argument("--init", help="fine-tune this bundle instead of starting from scratch")
    parser.add_argument("--no-flip", action="store_true",
                        help="no horizontal-flip augmentation (keeps left/right cues in place)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from leakview.models import ModelLoadError, classification_architectures
    from leakview.progress import ProgressBar
    from leakview.train import load_image_folder, train

    if args.init is None and args.arch not in classification_architectures():
        raise CommandError(f"unknown --arch {args.arch!r}; e.g. resnet18, mobilenet_v3_small, "
                           "efficientnet_b0 (see torchvision.models.list_models())", 2)
    if args.epochs < 1 or not 0 <= args.val_split < 1 or args.batch_size < 2:
        raise CommandError("--epochs must be >= 1, --val-split in [0, 1), --batch-size >= 2", 2)
    try:
        loading = ProgressBar(0, "loading", unit="img")
        data = load_image_folder(args.data, args.input_size,
                                 progress=lambda done, total: _update(loading, done, total))
        loading.close(f"loaded {len(data.labels)} images of {len(data.classes)} classes "
                      f"({', '.join(data.classes)}); {len(data.skipped)} unreadable skipped")
    except (FileNotFoundError, ValueError) as error:
        raise CommandError(str(error)) from None
    for problem in data.skipped:
        print(f"skipped {problem}", file=sys.stderr)

    bars: dict[int, ProgressBar] = {}

    def report(step: TrainProgress) -> None:
        bar = bars.setdefault(step.epoch, ProgressBar(step.batches,
                                                      f"epoch {step.epoch}/{step.epochs}",
                                                      unit="batch"))
        text = f"loss {step.loss:.3f} acc {step.accuracy:.3f}"
        if step.epoch_done:
            val = "" if step.val_accuracy is None else f" val_acc {step.val_accuracy:.3f}"
            bar.close(f"epoch {step.epoch}/{step.epochs} {text}{val}")
        else:
            bar.update(step.batch, text)

    try:
        result = train(data, args.arch, args.input_size, epochs=args.epochs, seed=args.seed,
                       device=args.device, val_split=args.val_split, batch_size=args.batch_size,
                       learning_rate=args.lr, init=args.init, out=args.out, progress=report,
                       augmentation={"flip": not args.no_flip})
    except (ModelLoadError, ValueError) as error:
        raise CommandError(str(error)) from None
    state = "interrupted; kept" if result.interrupted else "kept"
    val = ("n/a" if result.best_val_accuracy is None else f"{result.best_val_accuracy:.3f}")
    print(f"{state} epoch {result.best_epoch} (val_acc {val}); wrote {result.out}")
    return 130 if result.interrupted else 0


def _update(bar: ProgressBar, done: int, total: int) -> None:
    bar.total = total
    bar.update(done)
