"""Memory and throughput of ``leakview scan`` on a large folder (not a test).

Generates ``--count`` small images (64x48 .. 128x96, PNG and JPEG, ``--classes`` classes in an
ImageFolder tree, every image with an expected-region mask under ``.leakview/masks``) and scans
them with ``--methods`` through :func:`leakview.pipeline.run_scan_to_files` -- exactly what
``leakview scan FOLDER --csv OUT`` runs -- in a child process, so the figures are the scan's
own. The child samples ``VmRSS`` and ``VmHWM`` (peak RSS so far) from ``/proc/self/status``
every ``--every`` images and prints: peak RSS after ``--checkpoint`` images and after all of
them, their difference (flat memory: a few MiB at most, whatever the count), and throughput
(images/s) over the whole run and after the checkpoint.

The model is a freshly initialised ``--arch`` at ``--input-size`` saved with
``leakview.models.save_bundle`` (its weights do not matter for memory or speed), or ``--model``.
LIME is not offered here: at its default 1000 samples it needs one model batch per 100 samples,
so 5,000 images would take hours on a 2-core machine; saliency and Grad-CAM are the methods a
CI gate runs on every image.

Usage: ``python benchmarks/bench_load.py [--count 5000] [--checkpoint 500]
[--methods saliency,gradcam] [--dir DIR] [--threads 1] [--model M]``. With ``--dir`` the images
are generated there once and reused by later runs (only when the folder is empty).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CLASSES = ("barley", "maize", "rapeseed", "wheat")


def status_kib(field: str) -> int:
    """A ``kB`` field of /proc/self/status (VmRSS, VmHWM), in KiB; 0 where there is none."""
    try:
        with open("/proc/self/status", encoding="ascii") as stream:
            for line in stream:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def generate(folder: Path, count: int, seed: int = 0) -> None:
    """``count`` images with masks, sizes 64x48 .. 128x96, PNG and JPEG alternating."""
    from PIL import Image

    from leakview.masks import mask_path, write_mask

    rng = np.random.default_rng(seed)
    for index in range(count):
        label = CLASSES[index % len(CLASSES)]
        width = int(rng.integers(64, 129))
        height = int(rng.integers(48, 97))
        y, x = np.mgrid[0:height, 0:width]
        base = rng.integers(0, 256, 3)
        pixels = ((base + 40 * np.sin(x[..., None] / (3 + index % 7) + y[..., None] / 5))
                  .clip(0, 255).astype(np.uint8))
        pixels = (pixels + rng.integers(0, 24, pixels.shape)).clip(0, 255).astype(np.uint8)
        path = folder / label / f"{label}_{index:05d}.{'png' if index % 2 else 'jpg'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path)
        mask = np.zeros((height, width), dtype=bool)
        mask[height // 4: 3 * height // 4, width // 4: 3 * width // 4] = True
        write_mask(mask_path(folder, path), mask)


def child(args: argparse.Namespace) -> int:
    """The scan itself; prints one JSON line with the samples."""
    import torch

    from leakview.models import build_architecture, load_model, save_bundle
    from leakview.pipeline import ScanJob, run_scan_to_files

    torch.set_num_threads(args.threads)
    model_path = args.model
    if model_path is None:
        torch.manual_seed(0)
        model_path = str(Path(args.work) / "model.pt")
        size = (args.input_size, args.input_size)
        save_bundle(model_path, build_architecture(args.arch, len(CLASSES), size), args.arch,
                    CLASSES, size)
    model = load_model(model_path, device="cpu")
    samples: list[dict[str, float]] = []
    state = {"done": 0}
    started = time.perf_counter()
    samples.append({"images": 0, "seconds": 0.0, "rss_kib": status_kib("VmRSS"),
                    "hwm_kib": status_kib("VmHWM")})

    def on_result(result) -> None:
        state["done"] += 1
        done = state["done"]
        if done % args.every == 0 or done == args.checkpoint:
            samples.append({"images": done, "seconds": time.perf_counter() - started,
                            "rss_kib": status_kib("VmRSS"), "hwm_kib": status_kib("VmHWM")})

    job = ScanJob(folder=Path(args.folder).absolute(), csv=Path(args.work) / "scan.csv",
                  model=model, methods=tuple(args.methods.split(",")), device="cpu",
                  batch_size=args.batch_size)
    outcome = run_scan_to_files(job, on_result=on_result)
    seconds = time.perf_counter() - started
    print(json.dumps({"samples": samples, "seconds": seconds, "images": outcome.images,
                      "rows": outcome.rows_written, "errors": outcome.errors,
                      "final_rss_kib": status_kib("VmRSS"), "final_hwm_kib": status_kib("VmHWM"),
                      "model": str(model_path)}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--checkpoint", type=int, default=500)
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--methods", default="saliency,gradcam")
    parser.add_argument("--dir", help="generate the images here (kept), not in a temp folder")
    parser.add_argument("--model", help="a model bundle (default: an untrained --arch)")
    parser.add_argument("--arch", default="mobilenet_v3_small")
    parser.add_argument("--input-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    work = Path(tempfile.mkdtemp(prefix="leakview-bench-load-"))
    try:
        folder = Path(args.dir) if args.dir else work / "images"
        folder.mkdir(parents=True, exist_ok=True)
        if not any(folder.iterdir()):
            started = time.perf_counter()
            generate(folder, args.count)
            print(f"generated {args.count} images in {time.perf_counter() - started:.1f} s "
                  f"under {folder}")
        command = [sys.executable, __file__, "--child", "--folder", str(folder), "--work",
                   str(work), "--count", str(args.count), "--checkpoint", str(args.checkpoint),
                   "--every", str(args.every), "--methods", args.methods, "--arch", args.arch,
                   "--input-size", str(args.input_size), "--batch-size", str(args.batch_size),
                   "--threads", str(args.threads)]
        if args.model:
            command += ["--model", args.model]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        report = json.loads(output.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)   # model and CSV; --dir images are kept

    samples = report["samples"]
    images = report["images"]
    print(f"scanned {images} images x {len(args.methods.split(','))} methods ({args.methods}); "
          f"{report['rows']} rows, {report['errors']} errors; {args.arch} at "
          f"{args.input_size}x{args.input_size}, {args.threads} torch thread(s), batch "
          f"{args.batch_size}")
    print(f"{'images':>7s} {'seconds':>8s} {'RSS MiB':>8s} {'peak MiB':>9s}")
    for sample in samples:
        print(f"{sample['images']:7d} {sample['seconds']:8.1f} {sample['rss_kib'] / 1024:8.1f} "
              f"{sample['hwm_kib'] / 1024:9.1f}")
    at_checkpoint = next((s for s in samples if s["images"] == args.checkpoint), None)
    peak_end = report["final_hwm_kib"] / 1024
    print(f"throughput: {images / report['seconds']:.1f} images/s overall", end="")
    if at_checkpoint is not None and images > args.checkpoint:
        steady = (images - args.checkpoint) / (report["seconds"] - at_checkpoint["seconds"])
        peak_check = at_checkpoint["hwm_kib"] / 1024
        print(f", {steady:.1f} images/s after image {args.checkpoint}")
        print(f"peak RSS after {args.checkpoint} images: {peak_check:.1f} MiB; after {images}: "
              f"{peak_end:.1f} MiB; growth {peak_end - peak_check:+.1f} MiB "
              f"({(peak_end - peak_check) * 1024 / (images - args.checkpoint):+.2f} KiB/image)")
    else:
        print(f"\npeak RSS after {images} images: {peak_end:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
