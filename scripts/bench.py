"""SymBreak benchmarks: measured times and ratios against a baseline measured in the same run.

Each measurement runs in a fresh Python process, timed from after ``import torch, e3nn``,
so model construction and every precomputation are counted on both sides. The add-on's
measurements also register it first (bpy module, headless) and time only the operator.

    python scripts/bench.py                 # everything
    python scripts/bench.py training scale  # chosen sections
    python scripts/bench.py mesh --threads 1 --busy  # one thread, beside a busy process
    python scripts/bench.py scale --millions         # prediction up to 1,000,000 points
    python scripts/bench.py mesh --channels 4        # the network a radius graph gets by default

Every network is the seed's, one copy of each degree, unless ``--channels`` says otherwise (mesh only).

The mesh section's second peer, e3nn-jax, runs in its own environment (``scripts/setup_jax.sh``
creates ``.venv-jax``; without it that column stays empty).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

from peak_memory import peak_mib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _measure(*args: str) -> dict:
    """Run one measurement in a fresh interpreter and return its JSON line."""
    out = subprocess.run([sys.executable, __file__, "--measure", *args], check=True, capture_output=True,
                         text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def _reference_training(model, x, positions, goal, steps: int, after_step=None) -> float:
    """The baseline's loop: ``steps`` Adam steps (lr 1e-3) on the seed's mean squared error;
    ``after_step()`` follows each; returns the last step's loss."""
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(steps):
        loss = (model(x, positions) - goal).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if after_step is not None:
            after_step()
    return loss.item()


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
    loss = _reference_training(model, x, positions, goal, iterations)
    return time.perf_counter() - began, loss


def measure_training(side: str, task_name: str, iterations: int) -> dict:
    """The first training in a fresh process (a first click on Train) and a second one (every
    later click, with per-process caches warm), for the engine or the plain e3nn baseline."""
    from engine.tasks import TASKS

    first, loss = _train_once(side, TASKS[task_name], iterations)
    second, _ = _train_once(side, TASKS[task_name], iterations)
    return {"first": first, "second": second, "final_loss": loss}


def measure_scale(n: int, dtype_name: str) -> dict:
    """Inference (graph, network, decoding) on ``n`` random points, one per unit volume: about
    9 neighbours each within radius 1.25; decoding timed again on its own on the same outputs."""
    import numpy as np
    import torch

    from engine import signals, threads
    from engine.config import ModelConfig
    from engine.graph import edges as engine_edges
    from engine.network import Network
    from engine.prediction import predict

    radius = 1.25
    rng = np.random.default_rng(0)
    positions = rng.uniform(0.0, n ** (1 / 3), size=(n, 3))
    model = Network(ModelConfig(radius=radius, channels=1), generator=torch.Generator().manual_seed(0))
    peak_before = peak_mib()
    began = time.perf_counter()
    prediction = predict(model, positions, dtype=getattr(torch, dtype_name))
    seconds = time.perf_counter() - began
    peak = peak_mib() - peak_before
    with threads.single_thread():  # as predict decodes
        began = time.perf_counter()
        signals.decode(prediction.signals)
        decoding = time.perf_counter() - began
    edges = len(engine_edges(positions, radius)[0])
    return {"seconds": seconds, "decoding": decoding, "edges": edges, "peak_mib": peak,
            "ambiguous": int(prediction.ambiguous.sum())}


def measure_grid(side: int, iterations: int) -> dict:
    """Training on a ``side`` × ``side`` grid of unit spacing (radius 2.1: 12 neighbours inside)
    towards small random displacements, float32: the steps, then the final prediction pass
    (training's clock after the last step) and decoding (after training's clock), whose
    signals after a few steps are weak and tied by the grid's symmetry."""
    import numpy as np

    from engine import training
    from engine.config import ModelConfig
    from engine.schedule import Schedule

    x, y = np.meshgrid(np.arange(side, dtype=float), np.arange(side, dtype=float))
    start = np.stack([x.ravel(), y.ravel(), np.zeros(side * side)], axis=1)
    target = start + 0.1 * np.random.default_rng(0).normal(size=start.shape)
    ends: list[float] = []
    began = time.perf_counter()
    result = training.train(start, target, config=ModelConfig(radius=2.1, channels=1),
                            schedule=Schedule(iterations, tolerance=None),
                            progress=lambda iteration, loss: ends.append(time.perf_counter()))
    wall = time.perf_counter() - began
    return {"vertices": side * side, "steps": ends[-1] - began, "final_pass": began + result.seconds - ends[-1],
            "decoding": wall - result.seconds, "ambiguous": int(result.prediction.ambiguous.sum())}


MESH_SIZES = {"seed": 4, "42 all pairs": 42, "500": 500, "2,000": 2_000, "10,000": 10_000}
MESH_NEIGHBOURS = 16  # random clouds of one point per unit volume, radius for about 16 neighbours


def _mesh_problem(points: int, channels: int = 1):
    """The seed's first task for 4 points, all pairs of 42 random points, or a random cloud, with
    ``channels`` copies of each hidden degree: config, start and target positions."""
    import numpy as np

    from engine.config import ModelConfig
    from engine.tasks import TASKS

    if points == 4:
        task = next(iter(TASKS.values()))
        return ModelConfig(channels=channels), task.start, task.target
    rng = np.random.default_rng(0)
    if points == 42:
        start = rng.normal(size=(points, 3))
        return ModelConfig(channels=channels), start, start + 0.1 * rng.normal(size=start.shape)
    radius = (3 * MESH_NEIGHBOURS / (4 * np.pi)) ** (1 / 3)
    start = rng.uniform(0.0, points ** (1 / 3), size=(points, 3))
    return ModelConfig(radius=float(radius), channels=channels), start, start + 0.1 * rng.normal(size=start.shape)


def measure_mesh(side: str, points: int, steps: int, threads: int, channels: int) -> dict:
    """Training steps (loss, gradient, Adam) of the engine or plain e3nn eager, both float32, on
    one problem of :data:`MESH_SIZES`: the time from the call to the end of each step (the
    first one carries construction and precomputation), and peak memory above the imports."""
    import torch

    from engine import training
    from engine.graph import Graph
    from engine.reference import ReferenceNetwork
    from engine.schedule import Schedule
    from engine.signals import encode

    if threads:
        torch.set_num_threads(threads)
    config, start, target = _mesh_problem(points, channels)
    peak_before = peak_mib()
    began = time.perf_counter()
    ends: list[float] = []
    if side == "engine":
        result = training.train(start, target, config=config, schedule=Schedule(steps, tolerance=None),
                                progress=lambda iteration, loss: ends.append(time.perf_counter()))
        edges = Graph.of(config, start).num_edges
    else:
        torch.manual_seed(0)
        model = ReferenceNetwork(config).float()
        positions = torch.as_tensor(start, dtype=torch.float32)
        x = torch.ones(len(start), 1)
        goal = torch.as_tensor(encode(target - start, config.lmax), dtype=torch.float32)
        _reference_training(model, x, positions, goal, steps, lambda: ends.append(time.perf_counter()))
        edges = 0
    times = [b - a for a, b in zip([began] + ends, ends)]
    peak = peak_mib() - peak_before
    total = result.seconds if side == "engine" else ends[-1] - began
    return {"first": times[0], "steps": times[1:], "total": total, "edges": edges, "peak_mib": peak,
            "threads": torch.get_num_threads(), "load": os.getloadavg()[0]}


JAX_PYTHON = os.path.join(ROOT, ".venv-jax", "bin", "python")


def _jax_problem(points: int, folder: str) -> str:
    """Write one problem of :data:`MESH_SIZES` for ``scripts/bench_jax.py``: the engine's graph as
    it is, hub included (positions, edges, the lengths the basis sees, envelopes, neighbour counts),
    features, the vertices' target signals and settings; returns the path."""
    import numpy as np
    import torch

    from engine.graph import Graph
    from engine.network import hidden_irreps
    from engine.signals import encode

    config, start, target = _mesh_problem(points)
    graph = Graph.of(config, start)
    weights = graph.scale * graph.neighbours[graph.destination]  # each edge's envelope, 1 through the hub
    settings = {**config.to_dict(), "max_radius": graph.max_radius, "irreps_in": "0e",
                "irreps_out": str(hidden_irreps(config.lmax))}
    path = os.path.join(folder, f"problem_{points}.npz")
    np.savez(path, positions=graph.positions, source=graph.source.numpy(), destination=graph.destination.numpy(),
             lengths=graph.lengths.numpy(), envelope=weights.numpy(), neighbours=graph.neighbours.numpy(),
             features=graph.padded(torch.ones(len(start), 1, dtype=torch.float64)).numpy(),
             goal=encode(target - start, config.lmax), settings=json.dumps(settings))
    return path


def measure_jax(points: int, steps: int, threads: int) -> dict:
    """``scripts/bench_jax.py`` on one problem, in ``.venv-jax``; ``threads == 1`` keeps XLA on one thread."""
    env = dict(os.environ)
    if threads == 1:
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    with tempfile.TemporaryDirectory() as folder:
        problem = _jax_problem(points, folder)
        out = subprocess.run([JAX_PYTHON, os.path.join(ROOT, "scripts", "bench_jax.py"), problem, str(steps)],
                             check=True, capture_output=True, text=True, cwd=ROOT, env=env).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return {**result, "load": os.getloadavg()[0]}


def measure_show_signals(n: int, level: int) -> dict:
    """``symbreak.show_signals`` on ``n`` vertices with a stored prediction, at icosphere ``level``."""
    import bpy
    import numpy as np

    from render_demo import load_addon

    load_addon().register()
    from symbreak.addon import mesh, storage
    from symbreak.engine.api import encode

    rng = np.random.default_rng(0)
    points = rng.uniform(0.0, 10.0, size=(n, 3))
    displacements = rng.normal(size=(n, 3))
    obj = bpy.data.objects.new("Points", mesh.new_mesh("Points", points))
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    storage.store_prediction(obj, storage.StoredPrediction(
        indices=np.arange(n), start=points, displacements=displacements, signals=encode(displacements),
        ambiguous=np.zeros(n, dtype=bool), peaks=list(displacements[:, None, :]), vertex_count=n,
        fingerprint=mesh.fingerprint(points)))
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


def scale_section(millions: bool = False) -> list[str]:
    """Prediction on random clouds (10,000 and 100,000 points; 1,000,000 with ``millions``), and
    training's final pass and decoding on a 10,000-vertex grid."""
    rows = ["| points | dtype | edges | time (s) | of which decoding (s) | peak memory (MiB) | bytes per edge |",
            "|---|---|---|---|---|---|---|"]
    print("\n".join(rows), flush=True)
    for n in (10_000, 100_000) + ((1_000_000,) if millions else ()):
        try:
            r = _measure("scale", str(n), "float32")
        except subprocess.CalledProcessError as error:  # e.g. refused: more edges than the engine's limit
            rows.append(f"| {n:,} | float32 | – | {error.stderr.strip().splitlines()[-1]} | – | – | – |")
            print(rows[-1], flush=True)
            continue
        rows.append(f"| {n:,} | float32 | {r['edges']:,} | {r['seconds']:.2f} | {r['decoding']:.2f} | "
                    f"{r['peak_mib']:.0f} | {r['peak_mib'] * 2**20 / r['edges']:.0f} |")
        print(rows[-1], flush=True)
    grid = ["", "| grid vertices | 3 training steps (s) | final prediction pass (s) | decoding (s) | ambiguous |",
            "|---|---|---|---|---|"]
    print("\n".join(grid), flush=True)
    r = _measure("grid", "100", "3")
    grid.append(f"| {r['vertices']:,} | {r['steps']:.2f} | {r['final_pass']:.2f} | {r['decoding']:.2f} | "
                f"{r['ambiguous']:,} |")
    print(grid[-1], flush=True)
    return rows + grid


def _steps(results: list[dict], points: int) -> list[float]:
    """Per-step seconds after the first of every run; for the seed, each run's total of 200 steps."""
    if points == 4:
        return [r["total"] for r in results]
    return [t for r in results for t in r["steps"]]


def mesh_section(runs: int = 2, threads: int = 0, busy: bool = False, sizes: list[str] | None = None,
                 jax: bool = True, channels: int = 1) -> list[str]:
    """The engine's training step against plain e3nn eager and e3nn-jax (jit) from the seed to
    10,000 points: ``runs`` interleaved fresh processes per side (e3nn-jax once: it compiles
    for minutes); per-step times after the first step (min and median over every step of every
    run), the seed by total time of 200 steps; first steps carry construction, precomputation
    and, for e3nn-jax, tracing and compilation. The e3nn-jax peer runs the seed's one channel only."""
    jax = jax and channels == 1  # scripts/bench_jax.py builds the seed's network only
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    with_jax = jax and os.path.exists(JAX_PYTHON)
    rows = ["| points | edges | plain e3nn step (s) min / median | e3nn-jax step (s) min / median | "
            "engine step (s) min / median | speed-up over e3nn min / median | over e3nn-jax min / median | "
            "first step e3nn-jax / engine (s) | engine µs per edge | peak memory e3nn / e3nn-jax / engine (MiB) | load |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(rows), flush=True)
    if jax and not with_jax:
        print("(e3nn-jax not installed: run scripts/setup_jax.sh)", flush=True)
    try:
        for name, points in MESH_SIZES.items():
            if sizes and name.split()[0] not in sizes:
                continue
            steps = 200 if points == 4 else (6 if points >= 10_000 else 10)  # the first steps still fault memory in
            sides: dict = {"baseline": [], "engine": [], "jax": []}
            for run in range(runs):
                for side in ("baseline", "engine"):
                    sides[side].append(_measure("mesh", side, str(points), str(steps), str(threads), str(channels)))
                if with_jax and run == 0:
                    sides["jax"].append(measure_jax(points, steps, threads))
            base, fast, peer = (_steps(sides[side], points) for side in ("baseline", "engine", "jax"))
            b_min, b_med, f_min, f_med = min(base), statistics.median(base), min(fast), statistics.median(fast)
            if peer:
                j_min, j_med = min(peer), statistics.median(peer)
                jax_cells = (f"{j_min:.3f} / {j_med:.3f}", f"{j_min / f_min:.1f}× / {j_med / f_med:.1f}×",
                             f"{sides['jax'][0]['first']:.1f}", f"{sides['jax'][0]['peak_mib']:.0f}")
            else:
                jax_cells = ("–", "–", "–", "–")
            peak = [max(r["peak_mib"] for r in sides[side]) for side in ("baseline", "engine")]
            load = [r["load"] for rs in sides.values() for r in rs]
            edges = sides["engine"][0]["edges"]
            per_edge = f"{f_min / edges * 1e6:.1f}" if points != 4 else "–"
            label = f"{name} (200 steps, total)" if points == 4 else name
            rows.append(f"| {label} | {edges:,} | {b_min:.3f} / {b_med:.3f} | {jax_cells[0]} | "
                        f"{f_min:.4f} / {f_med:.4f} | {b_min / f_min:.1f}× / {b_med / f_med:.1f}× | {jax_cells[1]} | "
                        f"{jax_cells[2]} / {statistics.median(r['first'] for r in sides['engine']):.2f} | {per_edge} | "
                        f"{peak[0]:.0f} / {jax_cells[3]} / {peak[1]:.0f} | {min(load):.1f}–{max(load):.1f} |")
            print(rows[-1], flush=True)
    finally:
        if burner is not None:
            burner.kill()
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


SECTIONS = {"training": training_section, "mesh": mesh_section, "scale": scale_section, "show_signals": show_signals_section,
            "demo": demo_section}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        kind, *args = sys.argv[2:]
        import e3nn  # noqa: F401  (the one-time import is not counted)
        import torch  # noqa: F401

        if kind == "training":
            print(json.dumps(measure_training(args[0], args[1], int(args[2]))))
        elif kind == "mesh":
            print(json.dumps(measure_mesh(args[0], int(args[1]), int(args[2]), int(args[3]), int(args[4]))))
        elif kind == "grid":
            print(json.dumps(measure_grid(int(args[0]), int(args[1]))))
        elif kind == "show_signals":
            print(json.dumps(measure_show_signals(int(args[0]), int(args[1]))))
        else:
            print(json.dumps(measure_scale(int(args[0]), args[1])))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sections", nargs="*", metavar="SECTION", help=f"any of {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--runs", type=int, default=2, help="interleaved fresh processes per side (mesh)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads for mesh (0: each side's default)")
    parser.add_argument("--busy", action="store_true", help="run mesh beside a busy process")
    parser.add_argument("--without-jax", action="store_true", help="mesh: leave the e3nn-jax peer out")
    parser.add_argument("--millions", action="store_true", help="scale: also predict 1,000,000 points (minutes)")
    parser.add_argument("--channels", type=int, default=1, help="mesh: hidden copies of each degree (the seed's 1)")
    parser.add_argument("--sizes", nargs="*", help=f"mesh sizes among {', '.join(MESH_SIZES)} (default: all)")
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
        elif section == "mesh":
            mesh_section(args.runs, args.threads, args.busy, args.sizes, not args.without_jax, args.channels)
        elif section == "scale":
            scale_section(args.millions)
        else:
            SECTIONS[section]()


if __name__ == "__main__":
    main()
