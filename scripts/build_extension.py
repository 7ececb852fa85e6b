#!/usr/bin/env python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build the installable extension zips into dist/ and check each with Blender's own validator.

    .venv/bin/python scripts/build_extension.py                     # this machine's platform, with wheels
    .venv/bin/python scripts/build_extension.py --platform windows-x64 macos-arm64
    .venv/bin/python scripts/build_extension.py --no-wheels         # for a Blender that has torch already

A platform's zip, ``symbreak-<version>-<platform>.zip``, carries the wheels of what the engine
imports at run time (``RUN_TIME``) for Blender's Python 3.11 on that platform, listed in a copy of
the manifest; Blender installs them with the extension. ``symbreak-<version>-no-wheels.zip``
carries the add-on and the engine only. Wheels are kept in ``.cache/wheels/<platform>-<key>/``,
where the key is a hash of what was asked for, so a second build downloads nothing. The tool is
``blender_ext.py`` from inside the ``bpy`` package.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "wheels"
PYTHON = "3.11"  # Blender 5.0's

# The distributions the add-on imports in Blender, pinned to the versions the tests run on, and
# why each is there (measured: sys.modules after enabling the add-on, adding the seed demo, then
# analysing, training, predicting and learning on its three tasks). torch declares more, which
# nothing the add-on runs imports: networkx (torch._dynamo only looks for it), jinja2, filelock,
# fsspec and setuptools. numpy is Blender's own.
RUN_TIME = {
    "torch": ("2.13.0", "the network"),
    "e3nn": ("0.6.0", "irreps and spherical harmonics"),
    "scipy": ("1.17.1", "the engine's point groups and radius graphs (cKDTree, minimize_scalar)"),
    "threadpoolctl": ("3.8.0", "numpy's and scipy's BLAS held to one thread around the engine's calls"),
    "opt-einsum-fx": ("0.1.4", "imported by e3nn.o3 (e3nn.util.jit)"),
    "opt-einsum": ("3.4.0", "imported by opt_einsum_fx"),
    "packaging": ("26.4", "e3nn's check of the torch version"),
    "sympy": ("1.14.0", "torch._dynamo, which e3nn.o3's torch.compiler.disable imports"),
    "mpmath": ("1.3.0", "imported by sympy"),
    "typing-extensions": ("4.16.0", "imported by torch"),
}
# On the package index, Linux torch wheels are CUDA builds that pull in 3 GB of CUDA libraries;
# the CPU build carries the local version "+cpu" and is served from PyTorch's CPU index.
CPU_BUILD = {"linux-x64": "+cpu"}
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

# Blender platform -> pip platform tags (newest first).
PLATFORMS = {
    "linux-x64": ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"],
    "macos-arm64": ["macosx_14_0_arm64", "macosx_13_0_arm64", "macosx_12_0_arm64", "macosx_11_0_arm64"],
    "windows-x64": ["win_amd64"],
}
# What the zip is built from; the manifest's [build] paths_exclude_pattern prunes inside it.
SOURCES = ["__init__.py", "blender_manifest.toml", "addon", "engine", "README.md", "LICENSE"]


def this_platform() -> str:
    """This machine's platform as Blender names it (``blender_ext.platform_from_this_system``)."""
    spec = importlib.util.spec_from_file_location("blender_ext", blender_ext())
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    name: str = module.platform_from_this_system()
    if name not in PLATFORMS:
        raise SystemExit(f"error: no wheels for this machine's platform ({name}); "
                         f"choose --platform from {', '.join(PLATFORMS)} or --no-wheels")
    return name


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


def wheels(platform_name: str, cache: Path) -> list[Path]:
    """The ``RUN_TIME`` wheels for CPython 3.11 on ``platform_name``, downloaded once into the cache.

    Each is fetched on its own (``--no-deps``): pip evaluates dependency markers for the machine it
    runs on, not for the target platform, so it would resolve Linux's CUDA libraries for Windows.
    """
    pins = [f"{name}=={version}{CPU_BUILD.get(platform_name, '') if name == 'torch' else ''}"
            for name, (version, _why) in RUN_TIME.items()]
    tags = PLATFORMS[platform_name]
    asked = json.dumps([PYTHON, tags, pins])
    folder = cache / f"{platform_name}-{hashlib.sha256(asked.encode()).hexdigest()[:12]}"
    listing = folder / "wheels.json"
    if listing.exists():
        return [folder / name for name in json.loads(listing.read_text(encoding="utf-8"))]
    shutil.rmtree(folder, ignore_errors=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--dest", str(folder), "--python-version", PYTHON, "--implementation", "cp",
               "--abi", "cp311", "--abi", "abi3", "--abi", "none",
               *[arg for tag in [*tags, "any"] for arg in ("--platform", tag)]]
    torch, *others = pins
    index = ["--extra-index-url", CPU_INDEX] if platform_name in CPU_BUILD else []
    subprocess.run(command + index + [torch], check=True)  # only torch is looked up on the CPU index
    subprocess.run(command + others, check=True)
    found = sorted(folder.glob("*.whl"))
    listing.write_text(json.dumps([w.name for w in found], indent=1), encoding="utf-8")
    for stale in cache.glob(f"{platform_name}-*"):  # what earlier pins fetched
        if stale != folder:
            shutil.rmtree(stale)
    return found


def with_wheels(manifest_text: str, platform_name: str, names: list[str]) -> str:
    """Add ``platforms`` and ``wheels`` as top-level keys (before the first table)."""
    lines = manifest_text.splitlines()
    first_table = next(i for i, line in enumerate(lines) if line.startswith("["))
    listing = "\n".join(f'  "./wheels/{name}",' for name in names)
    insert = [f'platforms = ["{platform_name}"]', "wheels = [", listing, "]", ""]
    return "\n".join(lines[:first_table] + insert + lines[first_table:]) + "\n"


def build(platform_name: str | None, output_dir: Path, cache: Path = CACHE) -> Path:
    """Build and validate one zip: with the wheels of ``platform_name``, or none if it is None."""
    version = manifest_value(ROOT / "blender_manifest.toml", "version")
    ext_id = manifest_value(ROOT / "blender_manifest.toml", "id")
    zip_path = output_dir / f"{ext_id}-{version}-{platform_name or 'no-wheels'}.zip"
    output_dir.mkdir(parents=True, exist_ok=True)
    zip_path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / ext_id
        stage.mkdir()
        for name in SOURCES:
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, stage / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(src, stage / name)
        if platform_name is not None:
            found = wheels(platform_name, cache)
            (stage / "wheels").mkdir()
            for wheel in found:
                shutil.copy2(wheel, stage / "wheels" / wheel.name)
            manifest = stage / "blender_manifest.toml"
            manifest.write_text(with_wheels(manifest.read_text(encoding="utf-8"), platform_name,
                                            [w.name for w in found]), encoding="utf-8")
        tool("build", "--source-dir", str(stage), "--output-filepath", str(zip_path))
    tool("validate", str(zip_path))
    return zip_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--platform", nargs="+", choices=sorted(PLATFORMS), metavar="NAME",
                        help=f"Blender platforms to build for ({', '.join(PLATFORMS)}); default: this machine's")
    choice.add_argument("--no-wheels", action="store_true", help="build the zip without wheels")
    parser.add_argument("--output-dir", type=Path, default=ROOT / "dist")
    parser.add_argument("--cache-dir", type=Path, default=CACHE, help="where downloaded wheels are kept")
    args = parser.parse_args(argv)
    names = [None] if args.no_wheels else (args.platform or [this_platform()])
    for name in names:
        zip_path = build(name, args.output_dir.resolve(), args.cache_dir.resolve())
        print(f"built {zip_path} ({zip_path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
