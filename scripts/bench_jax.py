"""The benchmark's second peer: the same network trained with e3nn-jax under ``jax.jit``.

Runs in ``.venv-jax`` (``scripts/setup_jax.sh``), without torch: ``scripts/bench.py`` writes the
problem (the engine's graph with its hub, the lengths its radial basis sees, per-edge envelope,
neighbour counts, features and the vertices' target signals, settings) to
an ``.npz`` file, and this script prints one JSON line: the first step's time (tracing and
compilation counted), every later step's, and peak memory above the imports.

    .venv-jax/bin/python scripts/bench_jax.py problem.npz STEPS

Per convolution, as ``engine/reference.py`` writes it with e3nn: a ``FullyConnectedTensorProduct``
(e3nn-jax's legacy functional one) on every edge with weights from a radial MLP of the edge's
length, summed into each destination and divided by the square root of its neighbour count,
then e3nn's gate (softplus on the scalar, sigmoid gates), except after the last. Adam, lr 1e-3.
"""

from __future__ import annotations

import json
import math
import sys
import time

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
from e3nn_jax.legacy import FunctionalFullyConnectedTensorProduct
from peak_memory import peak_mib

BETA = 5.0


def softplus(x):
    return jax.nn.softplus(BETA * x) / BETA


def network(settings: dict, irreps_in: str):
    """The convolutions' tensor products and the radial MLPs' layer sizes."""
    lmax, layers = int(settings["lmax"]), int(settings["layers"])
    hidden = e3nn.Irreps([(1, (l, (-1) ** l)) for l in range(lmax + 1)])
    edge = e3nn.Irreps.spherical_harmonics(lmax, p=-1)
    gated = e3nn.Irreps(f"{lmax + 1}x0e") + hidden[1:]
    products, features = [], e3nn.Irreps(irreps_in)
    for k in range(layers):
        out = gated if k < layers - 1 else e3nn.Irreps(str(settings["irreps_out"]))
        products.append(FunctionalFullyConnectedTensorProduct(features, edge, out))
        features = hidden
    sizes = [[int(settings["number_of_basis"])] + [int(settings["radial_neurons"])] * int(settings["radial_layers"])
              + [sum(i.path_shape[0] * i.path_shape[1] * i.path_shape[2] for i in p.instructions)] for p in products]
    return edge, products, sizes


def main() -> None:
    path, steps = sys.argv[1], int(sys.argv[2])
    data = np.load(path, allow_pickle=False)
    settings = json.loads(str(data["settings"]))
    peak_before = peak_mib()
    began = time.perf_counter()
    edge, products, sizes = network(settings, str(settings["irreps_in"]))
    act = e3nn.normalize_function(softplus)
    key = jax.random.PRNGKey(0)
    params = []
    for mlp in sizes:
        layers = []
        for a, b in zip(mlp, mlp[1:]):
            key, sub = jax.random.split(key)
            layers.append(jax.random.normal(sub, (a, b)))
        params.append(layers)
    source, destination = jnp.asarray(data["source"]), jnp.asarray(data["destination"])
    positions = jnp.asarray(data["positions"], dtype=jnp.float32)
    lengths = jnp.asarray(data["lengths"], dtype=jnp.float32)  # as the basis sees them (hub edges stretched)
    envelope, neighbours = jnp.asarray(data["envelope"], jnp.float32), jnp.asarray(data["neighbours"], jnp.float32)
    x0 = e3nn.IrrepsArray(str(settings["irreps_in"]), jnp.asarray(data["features"], jnp.float32))
    goal = jnp.asarray(data["goal"], jnp.float32)
    n = len(positions)

    def radial(layers, embedding):
        h = embedding
        for j, w in enumerate(layers):
            h = h @ w / math.sqrt(w.shape[0])
            if j < len(layers) - 1:
                h = act(h)
        return h

    def loss(params):
        vectors = positions[source] - positions[destination]
        harmonics = e3nn.spherical_harmonics(edge, vectors, normalize=True, normalization="component")
        harmonics = harmonics * envelope[:, None]
        embedding = e3nn.soft_one_hot_linspace(lengths, start=0.0, end=float(settings["max_radius"]),
                                               number=int(settings["number_of_basis"]), basis="cosine",
                                               cutoff=False) ** 2
        x = x0
        for k, product in enumerate(products):
            weights = radial(params[k], embedding)
            messages = jax.vmap(product.left_right)(weights, x[source], harmonics)
            summed = e3nn.IrrepsArray(messages.irreps, jnp.zeros((n, messages.irreps.dim)).at[destination].add(
                messages.array))
            x = summed / jnp.sqrt(neighbours)[:, None]
            if k < len(products) - 1:
                x = e3nn.gate(x, even_act=softplus, even_gate_act=jax.nn.sigmoid)
        return jnp.mean((x.array[:len(goal)] - goal) ** 2)  # the vertices, not the hub

    @jax.jit
    def step(params, first, second, t):
        value, grads = jax.value_and_grad(loss)(params)
        t = t + 1
        first = jax.tree_util.tree_map(lambda m, g: 0.9 * m + 0.1 * g, first, grads)
        second = jax.tree_util.tree_map(lambda v, g: 0.999 * v + 0.001 * g * g, second, grads)
        params = jax.tree_util.tree_map(
            lambda p, m, v: p - 1e-3 * (m / (1 - 0.9 ** t)) / (jnp.sqrt(v / (1 - 0.999 ** t)) + 1e-8),
            params, first, second)
        return params, first, second, t, value

    first = jax.tree_util.tree_map(jnp.zeros_like, params)
    second = jax.tree_util.tree_map(jnp.zeros_like, params)
    t = jnp.zeros(())
    ends = []
    for _ in range(steps):
        params, first, second, t, value = step(params, first, second, t)
        value.block_until_ready()
        ends.append(time.perf_counter())
    times = [b - a for a, b in zip([began] + ends, ends)]
    peak = peak_mib() - peak_before
    print(json.dumps({"first": times[0], "steps": times[1:], "total": ends[-1] - began, "peak_mib": peak,
                      "final_loss": float(value), "jax": jax.__version__, "e3nn_jax": e3nn.__version__}))


if __name__ == "__main__":
    main()
