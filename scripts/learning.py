"""Default training on real meshes: what a new user gets on their own geometry.

Each case is a mesh and a target (Blender's own primitives where ``bpy`` is installed, and shapes
of our own), turned to a random orientation. The symmetry check runs first; when it says the
target needs an input, the order parameter it suggests is added, as the add-on's Analyze offers;
when no global order parameter fixes it, its verdict is the row.
Then the network trains with every default (graph, steps, learning rate) and the fit is reported
against the largest displacement.

    python scripts/learning.py            # every case, a markdown table
    python scripts/learning.py suzanne    # cases whose name contains a word
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, __file__.rsplit("/scripts/", 1)[0])
from engine import api  # noqa: E402


@dataclass(frozen=True)
class Case:
    name: str
    start: np.ndarray
    target: np.ndarray
    types: np.ndarray | None = None


def _rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


def _blender_vertices(add) -> np.ndarray | None:
    """The vertices of a Blender primitive, coincident ones merged (Suzanne has two pairs)."""
    try:
        import bpy
    except ImportError:
        return None
    bpy.ops.wm.read_factory_settings(use_empty=True)
    add(bpy.ops.mesh)
    points = np.array([v.co[:] for v in bpy.context.active_object.data.vertices])
    _, first = np.unique(np.round(points, 6), axis=0, return_index=True)
    return points[np.sort(first)]


def _ring(n: int, radius: float = 1.0) -> np.ndarray:
    angles = 2 * np.pi * np.arange(n) / n
    return radius * np.stack([np.cos(angles), np.sin(angles), np.zeros(n)], axis=1)


def cases() -> list[Case]:
    """The meshes, each in its own random orientation."""
    found = []
    suzanne = _blender_vertices(lambda mesh: mesh.primitive_monkey_add())
    if suzanne is not None:
        found.append(Case("Suzanne, squashed to 0.7 along z", suzanne, suzanne * [1, 1, 0.7]))
        ico = _blender_vertices(lambda mesh: mesh.primitive_ico_sphere_add(subdivisions=2))
        found.append(Case("Icosphere (42), triaxial 1.2 : 1 : 0.8", ico, ico * [1.2, 1.0, 0.8]))
        uv = _blender_vertices(lambda mesh: mesh.primitive_uv_sphere_add())
        found.append(Case("UV sphere (482), squashed to 0.8 along its axis", uv, uv * [1, 1, 0.8]))
        grid = _blender_vertices(lambda mesh: mesh.primitive_grid_add(x_subdivisions=20, y_subdivisions=20))
        found.append(Case("Grid (441), bent into a parabola", grid, grid + np.outer(0.2 * grid[:, 0] ** 2, [0, 0, 1])))
    octagon = _ring(8)
    found.append(Case("Octagon, stretched to 1.2 along x", octagon, octagon * [1.2, 1.0, 1.0]))
    carbons, hydrogens = _ring(6, 1.4), _ring(6, 2.5)
    tangent = np.stack([-carbons[:, 1], carbons[:, 0], np.zeros(6)], axis=1) / 1.4
    kekule = carbons + 0.05 * (-1.0) ** np.arange(6)[:, None] * tangent
    found.append(Case("Benzene-like ring (6 C + 6 H), Kekulé distortion", np.vstack([carbons, hydrogens]),
                      np.vstack([kekule, hydrogens]), np.array([6] * 6 + [1] * 6)))
    cloud = np.random.default_rng(0).uniform(-1.0, 1.0, (300, 3))
    swirl = 0.1 * np.stack([np.sin(2 * cloud[:, 1]), np.sin(2 * cloud[:, 2]), np.sin(2 * cloud[:, 0])], axis=1)
    found.append(Case("Random cloud (300), a smooth swirl", cloud, cloud + swirl))
    directions = np.random.default_rng(5).normal(size=(400, 3))
    ball = directions / np.linalg.norm(directions, axis=1, keepdims=True) * np.cbrt(
        np.random.default_rng(6).uniform(0.0, 1.0, (400, 1)))
    twist = 0.15 * ball[:, 2:] * np.stack([-ball[:, 1], ball[:, 0], np.zeros(400)], axis=1)
    found.append(Case("Random ball (400), a twist about an axis", ball, ball + twist))
    return [Case(c.name, c.start @ _rotation(k).T, c.target @ _rotation(k).T, c.types) for k, c in enumerate(found)]


def run(case: Case) -> dict:
    """Analyze, add the suggested input when one is needed, train with the defaults; the fit."""
    began = time.perf_counter()
    radius = api.automatic_radius(case.start)
    analysis = api.analyze(case.start, case.target, types=case.types, radius=radius)
    suggested = analysis["order_parameter"]
    fixes = api.fixes_target(analysis)
    order_parameter = None if analysis["learnable"] or not fixes else api.OrderParameter.from_dict(suggested)
    local = analysis["local"] or {}
    row = {"case": case.name, "vertices": len(case.start), "edges": api.count_edges(case.start, radius),
           "input": "none" if order_parameter is None else order_parameter.description,
           "learnable": analysis["learnable"] or fixes,
           "local": local.get("sentence", "") if local.get("indistinguishable") else ""}
    if not row["learnable"]:
        return {**row, "verdict": analysis["verdict"], "seconds": time.perf_counter() - began}
    result = api.train(case.start, case.target, config=api.ModelConfig(radius=radius),
                       order_parameter=order_parameter, types=case.types)
    fit = result.fit
    return {**row, "steps": len(result.loss_history), "seconds": time.perf_counter() - began,
            "max_error": fit.max_error, "mean_error": fit.mean_error, "within": fit.within}


def main(words: list[str]) -> None:
    print("| case | vertices | edges | input | steps | seconds | max error | mean error | within 5 % |")
    print("|---|---|---|---|---|---|---|---|---|")
    for case in cases():
        if words and not any(w.lower() in case.name.lower() for w in words):
            continue
        r = run(case)
        if "steps" not in r:
            print(f"| {r['case']} | {r['vertices']} | {r['edges']:,} | {r['verdict']} | | "
                  f"{r['seconds']:.1f} | | | |", flush=True)
            continue
        print(f"| {r['case']} | {r['vertices']} | {r['edges']:,} | {r['input']} | {r['steps']} | {r['seconds']:.1f} | "
              f"{r['max_error']:.1%} | {r['mean_error']:.1%} | {r['within']:.0%} |", flush=True)
        if r["local"]:
            print(f"|   ↳ local check | | | {r['local']} | | | | | |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
