"""Argument types shared by the subcommands: a bad value is a usage error (exit status 2) with
argparse's one-line message, before any model is loaded or any file written."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leakview.cli import CommandError
    from leakview.models import LoadedModel, ModelLoadError, ModelSpec


def device(text: str) -> str:
    """``--device``: ``auto``, ``cpu``, ``cuda``, ``cuda:1`` ... and available here."""
    from leakview.models import choose_device

    try:
        choose_device(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def root(text: str) -> Path:
    """A folder argument (an image root, a masks root, an output folder): absolute and
    normalised once, here (:func:`leakview.layout.normalise_root`), so the core sees one
    spelling of it."""
    from leakview.layout import normalise_root

    return normalise_root(text)


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def positive_int(text: str) -> int:
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def share(text: str) -> float:
    """A fraction from 0 to 1."""
    value = finite_float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a share from 0 to 1, got {text}")
    return value


def positive_share(text: str) -> float:
    """A fraction above 0, at most 1."""
    value = finite_float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a share above 0 and at most 1, got {text}")
    return value


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every command that runs a model on a folder takes alike: the model and
    what to say about it (:func:`add_model_spec_arguments`), the masks root, the device, the
    batch size and the sampling methods' settings."""
    parser.add_argument("--model", help="model file or Hugging Face folder, or demo-clean / "
                                        "demo-leaky (the bundled demo models); required "
                                        "unless DIR is the bundled demo, which runs "
                                        "demo-clean")
    add_model_spec_arguments(parser)
    parser.add_argument("--masks", type=root, help="masks root (default: DIR/.leakview/masks)")
    parser.add_argument("--device", type=device, help="cpu, cuda, cuda:1 ... (default: auto)")
    parser.add_argument("--batch-size", type=positive_int, default=16,
                        help="default: %(default)s")
    parser.add_argument("--lime-samples", type=positive_int,
                        help="LIME samples (default: the method's)")
    parser.add_argument("--seed", type=non_negative_int, help="seed of the sampling methods")


def folder_model(model: str | None, folder: str | os.PathLike[str]) -> str:
    """The model a command runs on ``folder``: ``--model`` as given, else the bundled
    demo-clean when ``folder`` is the bundled demo; on any other folder a missing ``--model``
    is a usage error (exit 2), so a gate whose model variable is empty never passes on the
    demo model. Decided before torch is imported."""
    from leakview.cli import EXIT_USAGE, CommandError
    from leakview.resources import is_demo_images

    if model:
        return model
    if is_demo_images(folder):
        return "demo-clean"
    raise CommandError(f"--model is required: {os.fspath(folder)} is not the bundled demo "
                       "(give a model file, or --model demo-clean to run the bundled demo "
                       "model on it)", EXIT_USAGE)


def add_atlas_rule_arguments(parser: argparse.ArgumentParser) -> None:
    """The class atlas's hot-spot rule (see leakview.atlas)."""
    parser.add_argument("--hot-fraction", type=positive_share, default=0.01,
                        help="share of cells in the hot spot (default: %(default)s)")
    parser.add_argument("--outside-share", type=positive_share, default=0.9,
                        help="a hot cell is outside when it misses the mask in at least this "
                             "share of images (default: %(default)s)")
    parser.add_argument("--min-concentration", type=finite_float, default=3.0,
                        help="the hot spot must hold this many times its area share of the "
                             "mass (default: %(default)s)")
    parser.add_argument("--min-images", type=positive_int, default=3,
                        help="masked images a class needs for a hot-spot verdict "
                             "(default: %(default)s)")
    parser.add_argument("--cell", type=positive_int,
                        help="side of the hot-spot cells in model-input pixels (default: about "
                             "1/24 of the input's short side)")
    parser.add_argument("--columns", type=positive_int, default=4,
                        help="panels per row of the atlas figure (default 4)")


def atlas_rule(args: argparse.Namespace) -> dict[str, Any]:
    """The hot-spot parameters of :func:`add_atlas_rule_arguments` as AtlasBuilder keywords."""
    return {"hot_fraction": args.hot_fraction, "outside_share": args.outside_share,
            "min_concentration": args.min_concentration, "min_images": args.min_images,
            "cell": args.cell}


# ------------------------------------------------------------------- what a model file lacks

def input_side(text: str) -> int:
    """One side of ``--input-size``: a whole number of pixels, at least 8."""
    value = _whole(text)
    if value < 8:
        raise argparse.ArgumentTypeError(f"an input side must be at least 8 pixels, got {value}")
    return value


def class_names(text: str) -> tuple[str, ...]:
    """``--classes a,b,c``: at least two distinct, non-empty names."""
    names = tuple(name.strip() for name in text.split(","))
    if len(names) < 2 or not all(names):
        raise argparse.ArgumentTypeError(f"expected at least two comma-separated class names, "
                                         f"got {text!r}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"duplicate class names in {text!r}")
    return names


def classes_file(text: str) -> tuple[str, ...]:
    """``--classes-file FILE``: one name a line, or an ImageFolder root's class folders."""
    from leakview.models.spec import read_classes_file

    try:
        return read_classes_file(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class _ChannelNumbers(argparse.Action):
    """``--mean``/``--std``: three numbers (R G B) or one (a 1-channel, gray model); a
    ``--std`` must be positive."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        numbers = tuple(values)
        if len(numbers) not in (1, 3):
            parser.error(f"{option_string}: give 1 number (a gray model) or 3 (R G B), "
                         f"got {len(numbers)}")
        if self.dest == "std" and any(number <= 0 for number in numbers):
            parser.error(f"{option_string}: must be positive, got {' '.join(map(str, numbers))}")
        setattr(namespace, self.dest, numbers)


def add_model_spec_arguments(parser: argparse.ArgumentParser, *, arch_help: str | None = None,
                             input_size_help: str | None = None) -> None:
    """What the user says about a model file that does not describe itself (a bare
    state_dict, a training checkpoint ...): ``--arch``, ``--classes`` or ``--classes-file``,
    ``--input-size``, ``--mean``, ``--std``. Read back with :func:`model_spec`."""
    group = parser.add_argument_group(
        "describing the model", "for a file that does not say everything itself (a bare "
        "state_dict, a training checkpoint, ...); a file's own values must agree")
    group.add_argument("--arch", metavar="NAME",
                       help=arch_help or "architecture: a torchvision name (resnet18) or "
                                         "timm/NAME (default: the file's, or guessed from "
                                         "the weights)")
    names = group.add_mutually_exclusive_group()
    names.add_argument("--classes", type=class_names, metavar="A,B,C",
                       help="class names in output order, comma-separated")
    names.add_argument("--classes-file", type=classes_file, metavar="FILE",
                       help="class names from a text file (one a line) or an ImageFolder "
                            "root (its sorted class folders)")
    group.add_argument("--input-size", type=input_side, nargs=2, metavar=("H", "W"),
                       help=input_size_help or "model input size in pixels")
    group.add_argument("--mean", type=finite_float, nargs="+", action=_ChannelNumbers,
                       metavar="M", help="normalisation mean: 3 numbers (R G B) or 1 (a "
                                         "gray model)")
    group.add_argument("--std", type=finite_float, nargs="+", action=_ChannelNumbers,
                       metavar="S", help="normalisation std: 3 numbers or 1")


def model_spec(args: argparse.Namespace) -> ModelSpec | None:
    """The :class:`~leakview.models.ModelSpec` of :func:`add_model_spec_arguments`'s flags,
    or None when none was given."""
    from leakview.models.spec import ModelSpec

    spec = ModelSpec(
        arch=getattr(args, "arch", None),
        classes=getattr(args, "classes", None) or getattr(args, "classes_file", None),
        input_size=tuple(args.input_size) if getattr(args, "input_size", None) else None,
        mean=getattr(args, "mean", None), std=getattr(args, "std", None))
    return None if spec.is_empty() else spec


#: The flags that give each :class:`~leakview.models.ModelSpec` field.
SPEC_FLAGS: dict[str, str] = {
    "arch": "--arch NAME (a torchvision name such as resnet18, or timm/NAME)",
    "classes": "--classes a,b,c or --classes-file FILE",
    "input_size": "--input-size H W",
    "mean": "--mean M M M",
    "std": "--std S S S",
}


def spec_needed_message(error: ModelLoadError) -> str:
    """One line for a :class:`~leakview.models.ModelSpecNeeded`: the file, what it lacks,
    the flags that give it and the architecture guessed from the weights, if any."""
    missing = getattr(error, "missing", ())
    flags = " and ".join(SPEC_FLAGS.get(field, f"--{field.replace('_', '-')}")
                         for field in missing)
    message = f"{error.path}: {error.reason}"
    if flags:
        message += f": give {flags}"
    guessed = getattr(error, "guessed_arch", None)
    if guessed and "arch" not in missing:
        message += f" (architecture {guessed} guessed from the weights)"
    return message


def model_error(error: ModelLoadError) -> CommandError:
    """The command-line failure for a model that cannot be loaded: a usage error (exit 2)
    naming the flags to give when the file needs a description
    (:class:`~leakview.models.ModelSpecNeeded`), else the file and the reason (exit 1)."""
    from leakview.cli import EXIT_USAGE, CommandError
    from leakview.models import ModelSpecNeeded

    if isinstance(error, ModelSpecNeeded):
        return CommandError(spec_needed_message(error), EXIT_USAGE)
    return CommandError(str(error))


def load_described_model(args: argparse.Namespace, device: str | None) -> LoadedModel:
    """The model ``args.model`` names, described by the :func:`add_model_spec_arguments`
    flags; a model that cannot be loaded raises :func:`model_error`'s CommandError."""
    from leakview.models import ModelLoadError, load_model
    from leakview.resources import demo_model_named

    try:
        return load_model(demo_model_named(args.model) or args.model, device=device,
                          spec=model_spec(args))
    except ModelLoadError as error:
        raise model_error(error) from None
