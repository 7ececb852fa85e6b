"""SymBreak benchmarks: measured times and ratios against a baseline measured in the same run.

Each measurement runs in a fresh Python process, timed from after ``import torch, e3nn``,
so model construction and every precomputation are counted on both sides. The add-on's
measurements also register it first (bpy module, headless) and time only the operator.

    python scripts/bench.py                 # everything
    python scripts/bench.py training scale  # chosen sections
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _measure(*args: str) -> dict:
    """Run one measurement in a fresh interpreter and return its JSON line."""
    out = subprocess.run([sys.executable, __file__, "--measure", *args], check=True, capture_output=True,
                         text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def _train_once(side: str, task, iterations: int) -> tuple[float, float]:
    """Seconds from the call to a trained model, and the final loss."""
    import torch

    from engine import api
    from engine.features import Features
    from engine.reference import ReferenceNetwork
    from engine.signals import encode

    config = api.ModelConfig()
    if side == "engine":  # its own clock stops at the trained model, before decoding the outputs
        result = api.train(task.start, task.target, config=config, order_parameter=task.order_parameter,
                           iterations=iterations)
        return result.seconds, result.final_loss
    began = time.perf_counter()
    torch.manual_seed(0)
    features = Features.with_order_parameter(len(task.start), task.order_parameter)
    model = ReferenceNetwork(config, features.irreps).double()
    positions = torch.as_tensor(task.start)
    x = torch.as_tensor(features.values)
    goal = torch.as_tensor(encode(task.target - task.start, config.lmax))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(iterations):
        loss = (model(x, positions) - goal).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - began, loss.item()


def measure_training(side: str, task_name: str, iterations: int) -> dict:
    """The first training in a fresh process (a first click on Train) and a second one (every
    later click, with per-process caches warm), for the engine or the plain e3nn baseline."""
    from engine.tasks import TASKS

    first, loss = _train_once(side, TASKS[task_name], iterations)
    second, _ = _train_once(side, TASKS[task_name], iterations)
    return {"first": first, "second": second, "final_loss": loss}


def measure_scale(n: int, dtype_name: str) -> dict:
    """Inference (graph, network, decoding) on ``n`` random points, one per unit volume: about
    8 neighbours each within radius 1.25."""
    import resource

    import numpy as np
    import torch

    from engine.config import ModelConfig
    from engine.graph import edges as engine_edges
    from engine.network import Network
    from engine.prediction import predict

    radius = 1.25
    rng = np.random.default_rng(0)
    positions = rng.uniform(0.0, n ** (1 / 3), size=(n, 3))
    model = Network(ModelConfig(radius=radius), generator=torch.Generator().manual_seed(0))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    prediction = predict(model, positions, dtype=getattr(torch, dtype_name))
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    edges = len(engine_edges(positions, radius)[0])
    return {"seconds": seconds, "edges": edges, "peak_mib": peak / 1024,
            "ambiguous": int(prediction.ambiguous.sum())}


def measure_show_signals(n: int, level: int) -> dict:
    """``symbreak.show_signals`` on ``n`` vertices with a stored prediction, at icosphere ``level``."""
    import bpy
    import numpy as np

    from render_demo import load_addon

    load_addon().register()
    from symbreak.addon import mesh, state
    from symbreak.engine.signals import encode

    rng = np.random.default_rng(0)
    points = rng.uniform(0.0, 10.0, size=(n, 3))
    displacements = rng.normal(size=(n, 3))
    obj = bpy.data.objects.new("Points", mesh.new_mesh("Points", points))
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    state.store_prediction(obj, state.StoredPrediction(
        indices=np.arange(n), start=points, displacements=displacements, signals=encode(displacements),
        ambiguous=np.zeros(n, dtype=bool), peaks=list(displacements[:, None, :])))
    bpy.context.scene.symbreak.display.signal_level = level
    began = time.perf_counter()
    if bpy.ops.symbreak.show_signals() != {'FINISHED'}:
        raise RuntimeError("symbreak.show_signals did not finish")
    seconds = time.perf_counter() - began
    surfaces = bpy.data.objects["Points Signals"]
    return {"seconds": seconds, "vertices": len(surfaces.data.vertices),
            "per_surface": surfaces["symbreak_surface_vertices"]}


def training_section(iterations: int) -> list[str]:
    from engine.tasks import TASKS

    rows = ["| task | click | plain e3nn (s) | engine (s) | speed-up | engine final loss |",
            "|---|---|---|---|---|---|"]
    print("\n".join(rows), flush=True)
    for name in TASKS:
        base = _measure("training", "baseline", name, str(iterations))
        fast = _measure("training", "engine", name, str(iterations))
        for click in ("first", "second"):
            rows.append(f"| {name} | {click} | {base[click]:.2f} | {fast[click]:.3f} | "
                        f"{base[click] / fast[click]:.1f}× | {fast['final_loss']:.2e} |")
            print(rows[-1], flush=True)
    return rows


def scale_section() -> list[str]:
    rows = ["| points | dtype | edges | time (s) | peak memory (MiB) | bytes per edge |", "|---|---|---|---|---|---|"]
    print("\n".join(rows), flush=True)
    for n in (10_000, 100_000):
        r = _measure("scale", str(n), "float32")
        rows.append(f"| {n:,} | float32 | {r['edges']:,} | {r['seconds']:.2f} | {r['peak_mib']:.0f} | "
                    f"{r['peak_mib'] * 2**20 / r['edges']:.0f} |")
        print(rows[-1], flush=True)
    return rows


def show_signals_section() -> list[str]:
    rows = ["| vertices | icosphere level | vertices per surface | mesh vertices | time (s) | goal |",
            "|---|---|---|---|---|---|"]
    print("\n".join(rows), flush=True)
    r = _measure("show_signals", "1000", "4")
    rows.append(f"| 1,000 | 4 | {r['per_surface']:,} | {r['vertices']:,} | {r['seconds']:.2f} | < 2 s |")
    print(rows[-1], flush=True)
    return rows


def demo_section() -> list[str]:
    """``scripts/render_demo.py`` at its defaults, in a fresh process: its own split and the wall time."""
    rows = ["| training (s) | building (s) | rendering (s) | setup (s) | script total (s) | process wall (s) |",
            "|---|---|---|---|---|---|"]
    print("\n".join(rows), flush=True)
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "render_demo.py"),
                              "--out", os.path.join(folder, "symmetry_breaking.mp4")],
                             check=True, capture_output=True, text=True, cwd=ROOT).stdout
        wall = time.perf_counter() - began
    t = json.loads(out.strip().splitlines()[-1])
    rows.append(f"| {t['training']:.1f} | {t['building']:.1f} | {t['rendering']:.1f} | {t['setup']:.1f} | "
                f"{t['total']:.1f} | {wall:.1f} |")
    print(rows[-1], flush=True)
    return rows


SECTIONS = {"training": training_section, "scale": scale_section, "show_signals": show_signals_section,
            "demo": demo_section}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        kind, *args = sys.argv[2:]
        import e3nn  # noqa: F401  (the one-time import is not counted)
        import torch  # noqa: F401

        if kind == "training":
            print(json.dumps(measure_training(args[0], args[1], int(args[2]))))
        elif kind == "show_signals":
            print(json.dumps(measure_show_signals(int(args[0]), int(args[1]))))
        else:
            print(json.dumps(measure_scale(int(args[0]), args[1])))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sections", nargs="*", metavar="SECTION", help=f"any of {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    print(f"# SymBreak benchmark — {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    for section in args.sections or SECTIONS:
        print(f"\n## {section}\n", flush=True)
        if section == "training":
            training_section(args.iterations)
        else:
            SECTIONS[section]()


if __name__ == "__main__":
    main()
