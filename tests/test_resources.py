"""The bundled demo: present, loadable, and opened through a writable copy."""

from __future__ import annotations

from pathlib import Path

from leakview.images import discover_images
from leakview.masks import SUSPECT, legacy_markers_root, mask_path, region_path
from leakview.models import load_model
from leakview.resources import demo_images_dir, demo_model_path, demo_workspace


def test_bundled_demo_images_have_masks() -> None:
    images = discover_images(demo_images_dir())
    assert len(images) == 40
    assert all(mask_path(demo_images_dir(), path).is_file() for path in images)
    # the corner marker of every image is its suspect region, in the one place for it
    assert all(region_path(demo_images_dir(), path, SUSPECT).is_file() for path in images)
    assert not legacy_markers_root(demo_images_dir()).exists()


def test_bundled_models_load_and_stay_small() -> None:
    for kind in ("clean", "leaky"):
        path = demo_model_path(kind)
        assert path.stat().st_size <= 10 * 1024 * 1024
        model = load_model(path, device="cpu")
        assert model.classes == ["corn", "empty", "sunflower", "wheat"]


def test_demo_workspace_is_a_writable_copy(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LEAKVIEW_DATA", str(tmp_path / "data"))
    workspace = demo_workspace()
    assert workspace == tmp_path / "data" / "demo"
    assert len(discover_images(workspace)) == 40
    (workspace / ".leakview" / "masks" / "corn" / "corn_0001.png.png").unlink()
    assert demo_workspace() == workspace  # an existing copy is kept, edits included
    assert not (workspace / ".leakview" / "masks" / "corn" / "corn_0001.png.png").exists()


def test_honest_demo_is_generated_once_without_a_marker(monkeypatch, tmp_path: Path) -> None:
    import json

    from leakview.resources import HONEST_DEMO_PER_CLASS, ensure_honest_demo, honest_demo_dir

    monkeypatch.setenv("LEAKVIEW_DATA", str(tmp_path / "data"))
    assert not honest_demo_dir().exists()
    calls: list[tuple[int, int]] = []
    folder = ensure_honest_demo(lambda done, total: calls.append((done, total)))
    assert folder == honest_demo_dir()
    images = discover_images(folder)
    assert len(images) == 4 * HONEST_DEMO_PER_CLASS and calls[-1] == (len(images),) * 2
    assert all(mask_path(folder, path).is_file() for path in images)
    assert not json.loads((folder / ".leakview" / "dataset.json").read_text())["leak"]
    assert [p.name for p in folder.parent.iterdir()] == ["demo-honest"]  # no staging left
    stamp = images[0].stat().st_mtime_ns
    assert ensure_honest_demo() == folder and images[0].stat().st_mtime_ns == stamp


def test_a_wheel_install_carries_the_resources(tmp_path: Path) -> None:
    """A plain (non-editable) install finds the demo under <prefix>/share/leakview/resources."""
    import filecmp
    import subprocess
    import sys
    import venv

    repo = Path(__file__).resolve().parent.parent
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(repo), "--no-deps", "-q",
                    "-w", str(wheels)], check=True, capture_output=True, timeout=300)
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    [wheel] = wheels.glob("leakview-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", str(wheel)], check=True, capture_output=True, timeout=300)
    code = ("import sys; from leakview.resources import demo_images_dir, demo_model_path; "
            "print(demo_model_path('clean')); print(demo_images_dir()); print(sys.prefix)")
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120, check=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    model, images, prefix = (Path(line) for line in result.stdout.split())
    assert model.is_relative_to(prefix / "share" / "leakview" / "resources")
    assert filecmp.cmp(model, demo_model_path("clean"), shallow=False)
    assert len(discover_images(images)) == 40
    assert all(mask_path(images, path).is_file() for path in discover_images(images))
    assert all(region_path(images, path, SUSPECT).is_file() for path in discover_images(images))
