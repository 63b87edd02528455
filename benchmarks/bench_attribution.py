"""Attribution speed, as ratios measured in one run (not a test).

(a) our LIME (``--samples`` perturbations) / the same number of plain batched forward passes of
    the same model at the same input size and batch size (target <= 1.10);
(b) the ``lime`` package's own ``LimeImageExplainer().explain_instance`` (its defaults:
    quickshift, hide_color=None, batch_size 10, top_labels 5) on the full-resolution image, with
    a classifier_fn that runs the model's preprocessing on full-resolution batches / our LIME.
    With ``--package-samples`` below ``--samples`` it is run at that count and extrapolated
    linearly: its fixed part (quickshift + mean-colour image, timed on its own) plus the
    measured per-sample cost times ``--samples``, as the output states;
(c) batched saliency (``saliency_batch`` on full-resolution images, maps returned at full
    resolution) images/s / forward+backward images/s on an already preprocessed batch
    (target >= 0.8); (c') the same against preprocess (``model.preprocess_batch`` of the
    full-resolution images) + forward+backward, the work no saliency from raw images avoids;
    (c'') (c) with images already at the model's input size (no resizing in or out).

Usage: ``python benchmarks/bench_attribution.py [--arch mobilenet_v3_small] [--input-size 224]
[--samples 1000] [--package-samples 100] [--repeats 3] [--saliency-repeats 15]``. Each ratio is
the median over ``--repeats`` pairs (``--saliency-repeats`` for (c)), each pair measured back to
back so load changes hit both alike; (a') also times the model's forward calls inside our LIME
with hooks, which no load change can skew.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from leakview.attribution import explain, saliency_batch  # noqa: E402
from leakview.models import LoadedModel, build_architecture  # noqa: E402


def synthetic_image(height: int = 720, width: int = 1280, seed: int = 0) -> np.ndarray:
    """A textured RGB scene: colour gradients, blobs, stripes, rectangles and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([x / width, y / height, 0.5 + 0.5 * np.sin(x / 90.0 + y / 70.0)], axis=2)
    for _ in range(12):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        radius = rng.uniform(40, 160)
        blob = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * radius ** 2))[..., None]
        image = image * (1 - blob) + blob * rng.uniform(0, 1, 3)
    for _ in range(6):
        top, left = rng.integers(0, height - 120), rng.integers(0, width - 200)
        image[top:top + rng.integers(40, 120), left:left + rng.integers(60, 200)] = \
            rng.uniform(0, 1, 3)
    image += 0.08 * np.sin(x / 3.0)[..., None] * np.array([1.0, 0.6, 0.3])
    image += rng.normal(0, 0.04, image.shape)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def timed(function) -> tuple[float, object]:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    value = function()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start, value


def plain_forwards(model: LoadedModel, image: np.ndarray, count: int, batch_size: int) -> None:
    """``count`` forward passes in batches of ``batch_size`` (copies of the preprocessed image:
    real pixel statistics, since CPU speed can depend on the data through denormals)."""
    batch = model.preprocess(image)[None].repeat(batch_size, 1, 1, 1)
    done = 0
    with torch.inference_mode():
        while done < count:
            size = min(batch_size, count - done)
            model.module(batch[:size]).cpu()
            done += size


class ModelClock:
    """Wall time spent inside a module's forward calls (pre-hook and hook on the root)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.seconds = 0.0
        self._start = 0.0
        self._handles = [module.register_forward_pre_hook(self._begin),
                         module.register_forward_hook(self._end)]

    def _begin(self, *_: object) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self._start = time.perf_counter()

    def _end(self, *_: object) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.seconds += time.perf_counter() - self._start

    def reset(self) -> None:
        self.seconds = 0.0

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def forward_backward(model: LoadedModel, batch: torch.Tensor) -> None:
    leaf = batch.detach().clone().requires_grad_(True)
    logits = model.module(leaf)
    targets = logits.detach().argmax(dim=1, keepdim=True)
    (gradient,) = torch.autograd.grad(logits.gather(1, targets).sum(), leaf)
    gradient.abs().amax(dim=1).cpu()


def package_lime(model: LoadedModel, image: np.ndarray, samples: int) -> None:
    import lime.lime_image
    from lime.lime_image import LimeImageExplainer

    lime.lime_image.tqdm = lambda iterable, *args, **kwargs: iterable  # no progress bar

    def classifier_fn(images: np.ndarray) -> np.ndarray:
        return model.predict(list(images))

    LimeImageExplainer(random_state=0).explain_instance(
        image, classifier_fn, num_samples=samples, random_seed=0)


def package_fixed_part(image: np.ndarray) -> None:
    """What explain_instance does once whatever the sample count: its default segmentation and
    the mean-colour ("fudged") image, exactly as lime_image writes them."""
    from lime.wrappers.scikit_image import SegmentationAlgorithm

    segments = SegmentationAlgorithm("quickshift", kernel_size=4, max_dist=200, ratio=0.2,
                                     random_seed=0)(image)
    fudged = image.copy()
    for label in np.unique(segments):
        fudged[segments == label] = (np.mean(image[segments == label][:, 0]),
                                     np.mean(image[segments == label][:, 1]),
                                     np.mean(image[segments == label][:, 2]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="mobilenet_v3_small")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=100, help="LIME batch size")
    parser.add_argument("--package-samples", type=int, default=100,
                        help="samples for the lime package run (extrapolated when smaller "
                             "than --samples)")
    parser.add_argument("--saliency-images", type=int, default=16)
    parser.add_argument("--saliency-repeats", type=int, default=15,
                        help="pairs for (c), (c'), (c''): each takes well under a second")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    size = (args.input_size, args.input_size)
    module = build_architecture(args.arch, args.classes, size).eval().to(args.device)
    model = LoadedModel(module=module, classes=[f"c{i}" for i in range(args.classes)],
                        input_size=size, arch=args.arch, device=torch.device(args.device))
    image = synthetic_image()
    print(f"leakview attribution benchmark: {args.arch} ({args.classes} classes) at "
          f"{size[0]}x{size[1]}, image {image.shape[1]}x{image.shape[0]}, device "
          f"{args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads")

    lime_options = dict(samples=args.samples, batch_size=args.batch_size)
    # warm-up: allocator, kernels, segmentation imports
    plain_forwards(model, image, args.batch_size, args.batch_size)
    explain(model, image, "lime", samples=args.batch_size, batch_size=args.batch_size)
    saliency_images = [np.roll(image, 37 * i, axis=1) for i in range(args.saliency_images)]
    saliency_batch(model, saliency_images)
    forward_backward(model, model.preprocess_batch(saliency_images).detach())

    # (a) LIME vs plain forwards; a hook also times the model inside our LIME (load-robust)
    inside = ModelClock(model.module)
    forward_times, lime_times, pair_ratios, inner_ratios = [], [], [], []
    result = None
    for _ in range(args.repeats):
        forward_times.append(timed(lambda: plain_forwards(model, image, args.samples,
                                                          args.batch_size))[0])
        inside.reset()
        elapsed, result = timed(lambda: explain(model, image, "lime", **lime_options))
        lime_times.append(elapsed)
        pair_ratios.append(elapsed / forward_times[-1])
        inner_ratios.append(elapsed / inside.seconds)
    inside.remove()
    t_forward, t_lime = float(np.median(forward_times)), float(np.median(lime_times))

    # (c) batched saliency vs forward+backward floor
    preprocessed = model.preprocess_batch(saliency_images).detach()
    floor_times, saliency_times, preprocess_times = [], [], []
    saliency_ratios, end_to_end_ratios = [], []
    for _ in range(args.saliency_repeats):
        floor_times.append(timed(lambda: forward_backward(model, preprocessed))[0])
        saliency_times.append(timed(lambda: saliency_batch(model, saliency_images))[0])
        preprocess_times.append(timed(lambda: model.preprocess_batch(saliency_images))[0])
        saliency_ratios.append(floor_times[-1] / saliency_times[-1])
        end_to_end_ratios.append((floor_times[-1] + preprocess_times[-1]) / saliency_times[-1])
    # (c'') the same at the model's input size: no resizing in or out, only our own overhead
    small_images = [np.ascontiguousarray(image[40 * i:40 * i + size[0], 60 * i:60 * i + size[1]])
                    for i in range(len(saliency_images))]
    small_batch = model.preprocess_batch(small_images).detach()
    saliency_batch(model, small_images)
    small_ratios = []
    for _ in range(args.saliency_repeats):
        t_floor = timed(lambda: forward_backward(model, small_batch))[0]
        small_ratios.append(t_floor / timed(lambda: saliency_batch(model, small_images))[0])
    count = len(saliency_images)
    floor_rate = count / float(np.median(floor_times))
    saliency_rate = count / float(np.median(saliency_times))
    end_to_end_rate = count / (float(np.median(floor_times))
                               + float(np.median(preprocess_times)))

    # (b) the lime package itself, on the full-resolution image
    n_package = args.package_samples
    t_run, _ = timed(lambda: package_lime(model, image, n_package))
    if n_package >= args.samples:
        t_package = t_run * args.samples / n_package
        package_note = f"measured at {n_package} samples"
    else:
        t_fixed, _ = timed(lambda: package_fixed_part(image))
        per_sample = max(t_run - t_fixed, 0.0) / n_package
        t_package = t_fixed + per_sample * args.samples
        package_note = (f"EXTRAPOLATED linearly to {args.samples} samples from a run at "
                        f"{n_package} samples ({t_run:.1f} s): its fixed part (lime's "
                        f"quickshift + mean-colour image at full resolution, timed on its own: "
                        f"{t_fixed:.1f} s) + {per_sample * 1000:.0f} ms/sample x "
                        f"{args.samples}")

    def spread(values: list[float]) -> str:
        if len(values) > 5:
            low, high = np.percentile(values, [25, 75])
            return f"{len(values)} pairs, quartiles {low:.2f} - {high:.2f}"
        return "runs " + ", ".join(f"{value:.2f}" for value in values)

    rows = [
        ("(a) our LIME / plain forwards", float(np.median(pair_ratios)), "<= 1.10",
         f"{t_lime:.2f} s vs {t_forward:.2f} s ({args.samples} samples, batch "
         f"{args.batch_size}); {spread(pair_ratios)}"),
        ("(a') our LIME / its own forwards", float(np.median(inner_ratios)), "<= 1.10",
         f"same runs, time inside the model's forward during LIME; {spread(inner_ratios)}"),
        ("(b) lime package / our LIME", t_package / t_lime, "report (>> 5)",
         f"{t_package:.1f} s vs {t_lime:.2f} s"),
        ("(c) batched saliency / fwd+bwd", float(np.median(saliency_ratios)), ">= 0.80",
         f"{saliency_rate:.1f} vs {floor_rate:.1f} images/s (batch of {count}, "
         f"{image.shape[1]}x{image.shape[0]} in and out); {spread(saliency_ratios)}"),
        ("(c') same / preprocess+fwd+bwd", float(np.median(end_to_end_ratios)), "report",
         f"{saliency_rate:.1f} vs {end_to_end_rate:.1f} images/s (model.preprocess_batch "
         f"{float(np.median(preprocess_times)) * 1000 / count:.1f} ms/image); "
         f"{spread(end_to_end_ratios)}"),
        ("(c'') (c) at the model's input size", float(np.median(small_ratios)), "report",
         f"{count} images of {size[1]}x{size[0]}: no resize in or out; "
         f"{spread(small_ratios)}"),
    ]
    print()
    print(f"{'ratio':34s} {'value':>8s}  {'target':14s} absolute")
    for name, value, target, absolute in rows:
        print(f"{name:34s} {value:8.2f}  {target:14s} {absolute}")
    print()
    print(f"(b) {package_note}")
    print(f"our LIME: {result.extras['num_superpixels']} superpixels, samples_used "
          f"{result.extras['samples_used']}, stability {result.extras['stability']:.2f}. "
          f"Ratios are medians of {args.repeats} interleaved pairs ({args.saliency_repeats} "
          f"for (c)), each pair measured back to back; absolute times are medians.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
