#!/usr/bin/env python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build the installable extension zip into dist/ and check it with Blender's own validator.

    .venv/bin/python scripts/build_extension.py                        # dist/symbreak-<version>.zip
    .venv/bin/python scripts/build_extension.py --platform linux-x64   # + torch/e3nn wheels

Without ``--platform`` the zip holds the add-on and the engine; it serves a Blender whose Python
already has torch and e3nn. With ``--platform NAME`` the wheels pip resolves for that Blender
platform (torch, e3nn and their dependencies, except numpy, which Blender ships) are bundled and
listed in a copy of the manifest. The tool is ``blender_ext.py`` from inside the ``bpy`` package.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ["torch==2.13.0", "e3nn==0.6.0"]
PYTHON = "3.11"

# Blender platform -> pip platform tags (newest first).
PLATFORMS = {
    "linux-x64": ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"],
    "linux-arm64": ["manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64"],
    "macos-arm64": ["macosx_14_0_arm64", "macosx_13_0_arm64", "macosx_12_0_arm64", "macosx_11_0_arm64"],
    "macos-x64": ["macosx_11_0_x86_64", "macosx_10_15_x86_64", "macosx_10_9_x86_64"],
    "windows-x64": ["win_amd64"],
    "windows-arm64": ["win_arm64"],
}
# What the zip carries besides what the manifest's exclusions already drop.
SOURCES = ["__init__.py", "blender_manifest.toml", "addon", "engine", "README.md", "LICENSE"]


def blender_ext() -> Path:
    """``blender_ext.py`` inside the installed ``bpy`` package (found without importing bpy)."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("error: the bpy package is not installed (pip install bpy==5.0.1)")
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
        if found:
            return found[-1]
    raise SystemExit("error: blender_ext.py not found inside the bpy package")


def manifest_value(manifest: Path, key: str) -> str:
    match = re.search(rf'^{key}\s*=\s*"([^"]+)"', manifest.read_text(encoding="utf-8"), re.M)
    if match is None:
        raise SystemExit(f"error: {manifest} has no {key}")
    return match.group(1)


def tool(*args: str) -> None:
    command = [sys.executable, str(blender_ext()), *args]
    result = subprocess.run(command, text=True, capture_output=True)
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(f"error: blender_ext {args[0]} failed (exit {result.returncode})")


def download_wheels(platform: str, folder: Path, index_url: str | None) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--dest", str(folder),
               "--python-version", PYTHON, "--implementation", "cp", "--abi", "cp311", "--abi", "abi3",
               "--abi", "none"]
    for tag in PLATFORMS[platform]:
        command += ["--platform", tag]
    command += ["--platform", "any"]
    if index_url:
        command += ["--index-url", index_url, "--extra-index-url", "https://pypi.org/simple"]
    subprocess.run(command + REQUIREMENTS, check=True)
    wheels = []
    for wheel in sorted(folder.glob("*.whl")):
        if wheel.name.lower().startswith("numpy-"):
            wheel.unlink()  # Blender ships its own numpy
        else:
            wheels.append(wheel)
    return wheels


def with_wheels(manifest_text: str, platform: str, wheels: list[str]) -> str:
    """Add ``platforms`` and ``wheels`` as top-level keys (before the first table)."""
    lines = manifest_text.splitlines()
    first_table = next(i for i, line in enumerate(lines) if line.startswith("["))
    listing = "\n".join(f'  "./wheels/{name}",' for name in wheels)
    insert = [f'platforms = ["{platform}"]', "wheels = [", listing, "]", ""]
    return "\n".join(lines[:first_table] + insert + lines[first_table:]) + "\n"


def build(platform: str | None, output_dir: Path, index_url: str | None) -> Path:
    version = manifest_value(ROOT / "blender_manifest.toml", "version")
    ext_id = manifest_value(ROOT / "blender_manifest.toml", "id")
    output_dir.mkdir(parents=True, exist_ok=True)
    if platform is None:
        zip_path = output_dir / f"{ext_id}-{version}.zip"
        zip_path.unlink(missing_ok=True)
        tool("build", "--source-dir", str(ROOT), "--output-filepath", str(zip_path))
    else:
        zip_path = output_dir / f"{ext_id}-{version}-{platform}.zip"
        zip_path.unlink(missing_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            stage = Path(tmp) / ext_id
            stage.mkdir()
            for name in SOURCES:
                src = ROOT / name
                if src.is_dir():
                    shutil.copytree(src, stage / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                elif src.exists():
                    shutil.copy2(src, stage / name)
            wheels = download_wheels(platform, stage / "wheels", index_url)
            manifest = stage / "blender_manifest.toml"
            manifest.write_text(with_wheels(manifest.read_text(encoding="utf-8"), platform,
                                            [w.name for w in wheels]), encoding="utf-8")
            tool("build", "--source-dir", str(stage), "--output-filepath", str(zip_path))
    tool("validate", str(zip_path))
    return zip_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--platform", choices=sorted(PLATFORMS),
                        help="bundle torch/e3nn wheels for this Blender platform")
    parser.add_argument("--output-dir", type=Path, default=ROOT / "dist")
    parser.add_argument("--index-url", default=None,
                        help="pip index for torch, e.g. https://download.pytorch.org/whl/cpu for CPU-only wheels")
    args = parser.parse_args(argv)
    zip_path = build(args.platform, args.output_dir.resolve(), args.index_url)
    print(f"built {zip_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
