"""The network: E(3) equivariance, permutation equivariance, and agreement with plain e3nn."""

import copy
import math

import numpy as np
import pytest
import torch
from e3nn import o3
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import engine.network.network
import engine.network.radial_nodes
import engine.network.rotated
import engine.network.streamed
from engine.network import activations
from engine import api
from engine.config import ModelConfig
from engine.graph import Graph, edges
from engine.network import Network, hidden_irreps
from engine.network.rotated import Layout, Rotated, frames
from engine.reference import ReferenceNetwork, copy_weights
from engine.threads import single_thread
from helpers import random_orthogonal, wigner

SMALL = dict(lmax=2, radial_neurons=16)


@pytest.fixture
def float64_default():
    """Default dtype float64 for the test, restored after."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def D(irreps, R):
    """The Wigner matrix of ``irreps`` at ``R`` as a float64 tensor."""
    return torch.as_tensor(wigner(irreps, R))


def make_network(config, irreps_in="0e", seed=0):
    return Network(config, irreps_in, generator=torch.Generator().manual_seed(seed))


def run(net, features, positions):
    """The network's output on ``(N, 3)`` positions (numpy or tensor) and ``(N, d)`` features."""
    positions = np.asarray(positions, dtype=np.float64)
    with torch.no_grad():
        return net(torch.as_tensor(features, dtype=torch.float64), Graph.of(net.config, positions))


def scale(*outputs):
    return max(1.0, *(float(o.detach().abs().max()) for o in outputs))


CONFIGS = {
    "signal-all-pairs": ModelConfig(),
    "vector-all-pairs": ModelConfig(output="vector"),
    "signal-radius": ModelConfig(radius=1.6),
    "vector-radius": ModelConfig(radius=1.6, output="vector"),
    "signal-radius-no-hub": ModelConfig(radius=1.6, hub=False),
    "signal-lmax3-2layers": ModelConfig(lmax=3, layers=2),
}


@pytest.fixture(params=list(CONFIGS), scope="module")
def config(request):
    return CONFIGS[request.param]


@pytest.mark.parametrize("irreps_in", ["0e", "0e+2e", "2x0e+1o"])
@pytest.mark.parametrize("inversion", [False, True], ids=["rotation", "inversion"])
def test_network_equivariant(config, irreps_in, inversion):
    """out(D_in x, R pos) == D_out out(x, pos) for rotations and rotation-inversions."""
    generator = torch.Generator().manual_seed(1)
    net = make_network(config, irreps_in)
    positions = torch.randn(9, 3, generator=generator, dtype=torch.float64)
    x = torch.randn(9, net.irreps_in.dim, generator=generator, dtype=torch.float64)
    R = torch.as_tensor(random_orthogonal(generator, inversion))
    out = run(net, x, positions)
    rotated = run(net, x @ D(net.irreps_in, R).T, positions @ R.T)
    expected = out @ D(net.irreps_out, R).T
    assert out.abs().max() > 1e-3  # not trivially zero
    assert (rotated - expected).abs().max() <= 1e-10 * scale(out)


def test_network_inversion_parity():
    """Under -I alone the signal's odd degrees (and a vector output) change sign."""
    positions = np.random.default_rng(2).normal(size=(6, 3))
    x = np.ones((6, 1))
    for output in ["signal", "vector"]:
        net = make_network(ModelConfig(lmax=3, output=output))
        out, inverted = run(net, x, positions), run(net, x, -positions)
        sign = torch.cat([torch.full((ir.dim,), float(ir.p)) for _, ir in net.irreps_out]).double()
        assert (inverted - out * sign).abs().max() <= 1e-10 * scale(out)
        assert (out * (sign < 0)).abs().max() > 1e-6  # the odd part is really there


def test_network_translation_invariant(config):
    """Translating every point changes nothing."""
    rng = np.random.default_rng(3)
    net = make_network(config, "0e+2e")
    positions, x = rng.normal(size=(8, 3)), rng.normal(size=(8, 6))
    out = run(net, x, positions)
    moved = run(net, x, positions + rng.normal(size=3) * 10)
    assert (moved - out).abs().max() <= 1e-10 * scale(out)


def test_network_permutation_equivariant(config):
    """Permuting the points permutes the outputs."""
    rng = np.random.default_rng(4)
    net = make_network(config, "0e+2e")
    positions, x = rng.normal(size=(8, 3)), rng.normal(size=(8, 6))
    permutation = rng.permutation(8)
    out = run(net, x, positions)
    permuted = run(net, x[permutation], positions[permutation])
    assert (permuted - out[permutation]).abs().max() <= 1e-10 * scale(out)


def test_radius_graph_is_continuous_at_the_radius():
    """A point crossing the graph radius changes the output continuously: the basis vanishes there."""
    net = make_network(ModelConfig(radius=1.0), "0e")
    base = np.array([[0.0, 0.0, 0.0], [0.3, 0.2, 0.1], [-0.4, 0.1, 0.3]])
    inside, outside = (np.vstack([base, [[d, 0.0, 0.0]]]) for d in (1.0 - 1e-7, 1.0 + 1e-7))
    a, b = run(net, np.ones((4, 1)), inside), run(net, np.ones((4, 1)), outside)
    assert len(edges(inside, 1.0)[0]) > len(edges(outside, 1.0)[0])
    assert (a - b).abs().max() <= 1e-6 * scale(a)


@pytest.mark.parametrize("hub", [False, True], ids=["no-hub", "hub"])
def test_a_hub_tells_apart_vertices_with_congruent_neighbourhoods(hub):
    """On a straight chain, vertices 4 and 5 have the same neighbourhood three hops deep: without a
    hub the network must give them the same signal; the hub tells each where it sits."""
    net = make_network(ModelConfig(radius=1.5, hub=hub), "0e")
    chain = np.outer(np.arange(12.0), [1.0, 0.0, 0.0])
    out = run(net, np.ones((12, 1)), chain)
    difference = float((out[4] - out[5]).abs().max())
    assert (difference > 1e-4) if hub else (difference < 1e-12)


def test_radius_graph_edges():
    """Radius edges are exactly the ordered pairs closer than the radius, plus every self-loop."""
    rng = np.random.default_rng(11)
    positions = rng.uniform(0, 3, size=(40, 3))
    source, destination = edges(positions, 0.8)
    distance = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
    expected = {(j, i) for j in range(40) for i in range(40) if distance[j, i] < 0.8}
    assert sorted(zip(source.tolist(), destination.tolist())) == sorted(expected)
    assert (np.diff(destination) >= 0).all()  # sorted by destination
    source, destination = edges(positions, None)
    assert len(source) == 40 * 40 and set(zip(source.tolist(), destination.tolist())) == \
        {(j, i) for j in range(40) for i in range(40)}


def test_hidden_channels_are_chosen_from_the_graph():
    """One copy of each degree over all pairs (the seed's network), MESH_CHANNELS on a radius
    graph, unless set; fixing a configuration to a problem stores the choice."""
    from engine.config import MESH_CHANNELS

    assert ModelConfig().hidden_channels == 1 and ModelConfig(radius=1.0).hidden_channels == MESH_CHANNELS > 1
    assert ModelConfig(radius=1.0, channels=2).hidden_channels == 2
    start = np.random.default_rng(0).normal(size=(5, 3))
    assert ModelConfig(radius=1.0).in_units_of(start, start).channels == MESH_CHANNELS
    network = Network(ModelConfig(lmax=3, channels=2))
    assert network.convolutions[1].irreps_in == o3.Irreps("0e+2x1o+2x2e+2x3o")
    assert network.irreps_out == hidden_irreps(3)


def test_output_shapes():
    """Signals have (lmax+1)^2 components, vectors 3."""
    positions = np.random.default_rng(6).normal(size=(4, 3))
    assert run(make_network(ModelConfig(lmax=3)), np.ones((4, 1)), positions).shape == (4, 16)
    assert run(make_network(ModelConfig(output="vector")), np.ones((4, 1)), positions).shape == (4, 3)
    assert Network(ModelConfig()).irreps_out == hidden_irreps(5)


@pytest.mark.parametrize("bad", [dict(lmax=0), dict(lmax=9), dict(layers=0), dict(output="scalar"),
                                 dict(radius=0.0), dict(radius=-1.0), dict(number_of_basis=1),
                                 dict(channels=0), dict(channels=17), dict(channels=True), dict(channels=2.0)])
def test_config_rejects(bad):
    with pytest.raises(ValueError):
        ModelConfig(**bad)


def test_config_round_trips_through_dict():
    config = ModelConfig(lmax=3, radius=2.0, output="vector")
    assert ModelConfig(**config.to_dict()) == config


# --- fast path == plain e3nn -----------------------------------------------------------------


REFERENCE_CASES = [
    (ModelConfig(lmax=2), "0e"),
    (ModelConfig(lmax=3, output="vector"), "0e"),
    (ModelConfig(lmax=4, radius=1.5), "0e+2e"),
    (ModelConfig(lmax=3, radius=1.5, hub=False), "0e+1o"),
    (ModelConfig(lmax=5), "0e+2e"),
    (ModelConfig(lmax=5, radius=1.5, output="vector"), "2x0e+1o"),
    (ModelConfig(lmax=3, layers=2, radial_layers=1, number_of_basis=5), "2x0e+1o"),
    (ModelConfig(lmax=2, channels=2), "0e+1o"),  # radius graphs above have MESH_CHANNELS copies
]


def reference_pair(config, irreps_in, rng, n):
    """A ReferenceNetwork, a Network with its weights, and ``n`` random positions and features."""
    torch.manual_seed(0)
    reference = ReferenceNetwork(config, irreps_in).double()
    network = Network(config, irreps_in)
    copy_weights(reference, network)
    return reference, network, rng.normal(size=(n, 3)), rng.normal(size=(n, network.irreps_in.dim))


@pytest.mark.parametrize("config, irreps_in", REFERENCE_CASES,
                         ids=[f"{c.output}-l{c.lmax}-{'r' if c.radius else 'all'}{'-hub' if c.has_hub else ''}-{i}"
                              for c, i in REFERENCE_CASES])
def test_fast_path_equals_plain_e3nn(config, irreps_in, float64_default):
    """Network on the weights of ReferenceNetwork (FullyConnectedTensorProduct per edge) agrees to 1e-10."""
    reference, network, positions, x = reference_pair(config, irreps_in, np.random.default_rng(7), 7)
    expected = reference(torch.as_tensor(x), torch.as_tensor(positions))
    out = run(network, x, positions)
    assert out.shape == expected.shape
    assert expected.abs().max() > 1e-3
    assert (out - expected).abs().max() <= 1e-10 * scale(expected)


def _reference_gradients(reference, network, x, positions, goal):
    """Autograd through plain e3nn: gradients of the features and, in the order of
    ``network.radial.parameters()``, of the weights they were copied into."""
    x = torch.as_tensor(x).requires_grad_()
    loss = (reference(x, torch.as_tensor(positions)) - goal).pow(2).mean()
    layers = [[layer.weight for layer in mlp] for mlp in reference.radials]
    grads = torch.autograd.grad(loss, [x] + [w for mlp in layers for w in mlp])
    per_layer = iter(grads[1:])
    by_mlp = [[next(per_layer) for _ in mlp] for mlp in layers]
    hidden = [torch.stack([mlp[j] for mlp in by_mlp]) for j in range(len(layers[0]) - 1)]
    return grads[0], hidden + [mlp[-1] for mlp in by_mlp]


@pytest.mark.parametrize("config, irreps_in", REFERENCE_CASES,
                         ids=[f"{c.output}-l{c.lmax}-{'r' if c.radius else 'all'}{'-hub' if c.has_hub else ''}-{i}"
                              for c, i in REFERENCE_CASES])
def test_hand_derived_gradient_equals_autograd_on_plain_e3nn(config, irreps_in, float64_default):
    """The plan's backward pass gives autograd's gradients through ReferenceNetwork, for the
    features and every weight, to 1e-10: through Network as an autograd node, and as the flat
    vector training uses (whose padding stays zero)."""
    rng = np.random.default_rng(11)
    reference, network, positions, x = reference_pair(config, irreps_in, rng, 6)
    goal = torch.as_tensor(rng.normal(size=(6, network.irreps_out.dim)))
    expected_x, expected = _reference_gradients(reference, network, x, positions, goal)

    features = torch.tensor(x, requires_grad=True)
    loss = (network(features, Graph.of(network.config, positions)) - goal).pow(2).mean()
    got_x, *got = torch.autograd.grad(loss, [features, *network.radial.parameters()])
    theta = network.radial.flat()
    grad = torch.full_like(theta, torch.nan)
    graph = Graph.of(network.config, positions)
    network.plan(graph).loss_and_gradient(network.radial.unflatten(theta), graph.padded(torch.as_tensor(x)), goal,
                                          network.radial.unflatten(grad))
    assert (got_x - expected_x).abs().max() <= 1e-10 * scale(expected_x)
    for e, g, flat in zip(expected, got, network.radial.unpadded(grad)):
        assert e.abs().max() > 1e-8
        assert (g - e).abs().max() <= 1e-10 * scale(e)
        assert (flat - e).abs().max() <= 1e-10 * scale(e)
    padding = torch.ones_like(grad)
    for view in network.radial.unpadded(padding):
        view.zero_()
    assert torch.isfinite(grad).all() and (grad[padding.bool()] == 0).all()  # all written, padding zero


def test_copy_weights_copies_every_parameter(float64_default):
    """Two networks given the same reference weights are identical; a fresh one is not."""
    config = ModelConfig(lmax=2)
    torch.manual_seed(0)
    reference = ReferenceNetwork(config)
    a, b = make_network(config, seed=1), make_network(config, seed=2)
    positions, x = np.random.default_rng(8).normal(size=(5, 3)), np.ones((5, 1))
    assert not torch.equal(run(a, x, positions), run(b, x, positions))
    copy_weights(reference, a)
    copy_weights(reference, b)
    assert torch.equal(run(a, x, positions), run(b, x, positions))


# --- edge-frame executor == plain e3nn -------------------------------------------------------


@pytest.fixture(params=["by-length", "by-place", "interpolated"])
def edge_order(request, monkeypatch):
    """The edge-frame executor's edges by length, or by place at any size; or by length with the radial
    MLPs interpolated from nodes at any size."""
    by_place = request.param == "by-place"
    monkeypatch.setattr(engine.network.rotated, "LOCAL_FROM_POINTS", 0 if by_place else 10**9)
    monkeypatch.setattr(engine.network.rotated, "PLACE_TABLE_FACTOR", math.inf)
    monkeypatch.setattr(engine.network.radial_nodes, "MAX_NODE_SHARE", math.inf if request.param == "interpolated" else 0.0)
    return request.param


def _rotated(network, positions, monkeypatch):
    """The edge-frame executor on ``positions``, edges in several chunks."""
    monkeypatch.setattr(engine.network.rotated, "EDGE_CHUNK", 5)
    graph = Graph.of(network.config, positions)
    return Rotated(network, graph), graph


@pytest.mark.parametrize("config, irreps_in", REFERENCE_CASES,
                         ids=[f"{c.output}-l{c.lmax}-{'r' if c.radius else 'all'}{'-hub' if c.has_hub else ''}-{i}"
                              for c, i in REFERENCE_CASES])
def test_rotated_equals_plain_e3nn(config, irreps_in, edge_order, float64_default, monkeypatch):
    """In edge frames, chunked, the outputs and every weight's gradient agree with autograd
    through ReferenceNetwork to 1e-10."""
    rng = np.random.default_rng(13)
    reference, network, positions, x = reference_pair(config, irreps_in, rng, 7)
    goal = torch.as_tensor(rng.normal(size=(7, network.irreps_out.dim)))
    with torch.no_grad():
        expected_out = reference(torch.as_tensor(x), torch.as_tensor(positions))
    _, expected = _reference_gradients(reference, network, x, positions, goal)
    executor, graph = _rotated(network, positions, monkeypatch)
    theta = network.radial.flat()
    grad = torch.full_like(theta, torch.nan)
    x = graph.padded(torch.as_tensor(x))
    out = graph.vertices(executor.forward(network.radial.unflatten(theta), x))
    loss = executor.loss_and_gradient(network.radial.unflatten(theta), x, goal, network.radial.unflatten(grad))
    assert (out - expected_out).abs().max() <= 1e-10 * scale(expected_out)
    assert abs(float(loss) - float((expected_out - goal).pow(2).mean())) <= 1e-10
    for e, g in zip(expected, network.radial.unpadded(grad)):
        assert e.abs().max() > 1e-8
        assert (g - e).abs().max() <= 1e-10 * scale(e)


@pytest.mark.parametrize("inversion", [False, True], ids=["rotation", "inversion"])
def test_rotated_is_equivariant(inversion, edge_order, float64_default, monkeypatch):
    """out(D_in x, R pos) == D_out out(x, pos) in edge frames, to 1e-10."""
    generator = torch.Generator().manual_seed(5)
    network = make_network(ModelConfig(radius=1.6), "0e+2e")
    positions = torch.randn(20, 3, generator=generator, dtype=torch.float64)
    x = torch.randn(20, network.irreps_in.dim, generator=generator, dtype=torch.float64)
    R = torch.as_tensor(random_orthogonal(generator, inversion))
    theta = network.radial.unflatten(network.radial.flat())
    executor, graph = _rotated(network, positions.numpy(), monkeypatch)
    out = graph.vertices(executor.forward(theta, graph.padded(x)))
    executor, graph = _rotated(network, (positions @ R.T).numpy(), monkeypatch)
    turned = graph.vertices(executor.forward(theta, graph.padded(x @ D(network.irreps_in, R).T)))
    assert out.abs().max() > 1e-3
    assert (turned - out @ D(network.irreps_out, R).T).abs().max() <= 1e-10 * scale(out)


def test_edges_run_by_place_unless_that_tabulates_many_more_lengths(monkeypatch):
    """From LOCAL_FROM_POINTS points the edges run by place, a few neighbourhoods a chunk; a
    mirror-symmetric cloud, whose equal lengths lie apart, keeps them by length."""
    monkeypatch.setattr(engine.network.rotated, "LOCAL_FROM_POINTS", 100)
    monkeypatch.setattr(engine.network.rotated, "EDGE_CHUNK", 64)
    network = make_network(ModelConfig(radius=0.5), "0e")
    cloud = np.random.default_rng(3).uniform(0.0, 1.5, size=(150, 3))
    mirrored = np.concatenate([cloud, cloud * [-1.0, 1.0, 1.0]])
    executors = {name: Rotated(network, Graph.of(network.config, p))
                 for name, p in [("small", cloud[:90]), ("cloud", cloud), ("mirrored", mirrored)]}
    assert [e.by_place for e in executors.values()] == [False, True, False]
    by_place = executors["cloud"]
    spans = [int(by_place.source[e].max() - by_place.source[e].min()) for e in by_place.chunks]
    assert np.median(spans) < by_place.num_points / 2  # a chunk's sources are near in memory (by length: about all)


def test_frames_turn_each_edge_onto_the_polar_axis(float64_default):
    """D_e, as two turns about the polar axis and two quarter turns, is e3nn's wigner_D(l, alpha,
    beta, 0), D_e^T its transpose, and D_e^T Y_e keeps only m = 0, sqrt(2l+1), or nothing for a
    zero vector (self-loops)."""
    vectors = torch.cat([torch.randn(50, 3, generator=torch.Generator().manual_seed(6), dtype=torch.float64),
                         torch.zeros(1, 3), torch.tensor([[0.0, 2.0, 0.0], [0.0, -1.0, 0.0]])])
    harmonics = o3.spherical_harmonics(list(range(6)), vectors, normalize=True, normalization="component")
    alpha_turns, beta_turns = frames(vectors, 5, torch.float64)
    alpha, beta = o3.xyz_to_angles(vectors)
    layout = Layout([o3.Irrep(l, (-1) ** l) for l in range(6)], 5, torch.float64)
    every = slice(0, len(vectors))
    identity = torch.eye(36)[:, :, None].expand(36, 36, len(vectors))
    d = torch.stack([layout.from_frame(identity[:, j], alpha_turns, beta_turns, every) for j in range(36)], 1)
    d_t = torch.stack([layout.to_frame(identity[:, j], alpha_turns, beta_turns, every) for j in range(36)], 1)
    in_frame = layout.to_frame(harmonics.T, alpha_turns, beta_turns, every)
    for l in range(6):
        block = slice(l * l, (l + 1) ** 2)
        expected = o3.wigner_D(l, alpha, beta, torch.zeros_like(alpha))
        assert (d[block, block].permute(2, 0, 1) - expected).abs().max() < 1e-12
        assert (d_t[block, block].permute(2, 0, 1) - expected.transpose(1, 2)).abs().max() < 1e-12
        assert (in_frame[block][torch.arange(2 * l + 1) != l].abs() < 1e-12).all()
        m_zero = torch.full((len(vectors),), (2 * l + 1) ** 0.5)
        m_zero[50] = 1.0 if l == 0 else 0.0
        assert (in_frame[l * l + l] - m_zero).abs().max() < 1e-12


# --- streamed path == planned path ----------------------------------------------------------


def streamed_run(net, features, positions):
    """The streamed executor (autograd's path on large graphs) on any graph."""
    graph = Graph.of(net.config, np.asarray(positions, dtype=np.float64))
    with torch.no_grad():
        return graph.vertices(engine.network.streamed.run(net, graph.padded(torch.as_tensor(features)), graph))


@pytest.mark.parametrize("config", [ModelConfig(), ModelConfig(radius=1.2, output="vector"), ModelConfig(lmax=3)])
def test_streamed_equals_planned(config, monkeypatch):
    """The streamed path (in several chunks) changes only the radial weights, interpolated from
    a table: by less than float32 resolution."""
    rng = np.random.default_rng(9)
    net = make_network(config, "0e+2e")
    positions, x = rng.normal(size=(12, 3)), rng.normal(size=(12, 6))
    planned = run(net, x, positions)
    monkeypatch.setattr(engine.network.streamed, "EDGE_CHUNK", 17)
    streamed = streamed_run(net, x, positions)
    assert (streamed - planned).abs().max() <= 1e-6 * scale(planned)


def test_streamed_path_is_exactly_equivariant():
    """The radial table depends on edge lengths only, so the streamed path stays equivariant."""
    rng = np.random.default_rng(12)
    net = make_network(ModelConfig(radius=1.5), "0e")
    positions, x = rng.normal(size=(30, 3)), np.ones((30, 1))
    rotation = o3.rand_matrix(dtype=torch.float64)
    out = streamed_run(net, x, positions)
    rotated = streamed_run(net, x, positions @ rotation.numpy().T)
    expected = out @ D(net.irreps_out, rotation).T
    assert (rotated - expected).abs().max() <= 1e-10 * scale(out)


@pytest.mark.parametrize("config, irreps_in", REFERENCE_CASES,
                         ids=[f"{c.output}-l{c.lmax}-{'r' if c.radius else 'all'}{'-hub' if c.has_hub else ''}-{i}"
                              for c, i in REFERENCE_CASES])
def test_large_graph_inference_equals_plain_e3nn(config, irreps_in, edge_order, float64_default, monkeypatch):
    """Inference on graphs above MAX_PLANNED_EDGES runs in edge frames, each chunk evaluating the
    radial MLPs on its own band of lengths: equal to plain e3nn to 1e-10, a coincident pair of
    points included."""
    reference, network, positions, x = reference_pair(config, irreps_in, np.random.default_rng(17), 8)
    positions[3] = positions[5]  # an edge of length 0 that is not a self-loop
    expected = reference(torch.as_tensor(x), torch.as_tensor(positions))
    monkeypatch.setattr(engine.network.network, "MAX_PLANNED_EDGES", 0)
    monkeypatch.setattr(engine.network.rotated, "EDGE_CHUNK", 7)
    out = run(network, x, positions)
    assert expected.abs().max() > 1e-3
    assert (out - expected).abs().max() <= 1e-10 * scale(expected)


def test_large_cloud_float32():
    """About 2000 points on a radius graph run in edge frames in float32 and match float64 to 1e-4
    relative (on one thread, as prediction runs: two took 10.7 s against 1.8 s beside other work)."""
    rng = np.random.default_rng(10)
    config = ModelConfig(radius=0.35)
    positions = rng.uniform(0.0, 2.0, size=(2000, 3))
    net = make_network(config)
    geometry64 = Graph.of(config, positions)
    assert geometry64.num_edges > engine.network.MAX_PLANNED_EDGES  # really the large-graph path
    ones = torch.ones(2000, 1, dtype=torch.float64)
    with torch.no_grad(), single_thread():
        out64 = net(ones, geometry64)
        out32 = copy.deepcopy(net).float()(ones.float(), Graph.of(config, positions, dtype=torch.float32))
    assert out32.dtype == torch.float32
    assert torch.isfinite(out32).all()
    assert (out32.double() - out64).abs().max() <= 1e-4 * out64.abs().max()


# --- property-based --------------------------------------------------------------------------


def clouds(max_points=50):
    """(N, 3) float64 clouds, 2 <= N <= max_points, coordinates in [-3, 3] (coincident points allowed)."""
    return st.integers(2, max_points).flatmap(
        lambda n: arrays(np.float64, (n, 3), elements=st.floats(-3, 3, allow_nan=False, width=64)))


def separated_clouds(max_points=50):
    """Clouds of 2..max_points distinct points of a 0.1 lattice in [-3, 3]^3, shifted by a random vector.

    Equivariance is only tested on points at least 0.1 apart: the direction of an edge between
    (nearly) coincident points is numerically meaningless, see ``test_coincident_points``.
    """
    lattice = st.lists(st.tuples(*[st.integers(-30, 30)] * 3), min_size=2, max_size=max_points, unique=True)
    shift = st.tuples(*[st.floats(-1, 1, allow_nan=False)] * 3)
    return st.builds(lambda points, t: 0.1 * np.array(points, dtype=np.float64) + np.array(t), lattice, shift)


angles = st.tuples(*[st.floats(-np.pi, np.pi, allow_nan=False)] * 3)


def _equivariance_error(net, positions, abc, inversion):
    R = o3.angles_to_matrix(*(torch.tensor(a, dtype=torch.float64) for a in abc))
    R = -R if inversion else R
    x = np.ones((len(positions), 1))
    out = run(net, x, positions)
    assert torch.isfinite(out).all()
    rotated = run(net, x, torch.as_tensor(positions) @ R.T)
    return float((rotated - out @ D(net.irreps_out, R).T).abs().max()) / scale(out)


SMALL_NETWORKS = {output: make_network(ModelConfig(output=output, **SMALL)) for output in ["signal", "vector"]}
DEFAULT_NETWORK = make_network(ModelConfig())


@settings(max_examples=15, deadline=None)
@given(positions=separated_clouds(), abc=angles, inversion=st.booleans(), output=st.sampled_from(["signal", "vector"]))
def test_property_equivariant_small(positions, abc, inversion, output):
    """Random clouds of 2-50 points: runs, finite, equivariant (small config)."""
    assert _equivariance_error(SMALL_NETWORKS[output], positions, abc, inversion) <= 1e-9


@settings(max_examples=3, deadline=None)
@given(positions=separated_clouds(), abc=angles, inversion=st.booleans())
def test_property_equivariant_default(positions, abc, inversion):
    """Random clouds of 2-50 points: runs, finite, equivariant (the seed's config)."""
    assert _equivariance_error(DEFAULT_NETWORK, positions, abc, inversion) <= 1e-9


@settings(max_examples=15, deadline=None)
@given(positions=clouds(), output=st.sampled_from(["signal", "vector"]))
def test_property_any_cloud_runs(positions, output):
    """Any cloud of 2-50 points, coincident points included: runs, right shape, finite."""
    out = run(SMALL_NETWORKS[output], np.ones((len(positions), 1)), positions)
    assert out.shape == (len(positions), SMALL_NETWORKS[output].irreps_out.dim)
    assert torch.isfinite(out).all()


def test_coincident_points():
    """Coincident points are fine (their edge is a self-loop: scalar only) ...

    ... but the network jumps as two points separate: the seed's radial basis does not vanish at
    r = 0, so an edge of length 1e-12 carries its full (numerically meaningless) direction.
    This documents the limit of the equivariance tests above; it is the seed's design.
    """
    net = SMALL_NETWORKS["signal"]
    x = np.ones((2, 1))
    together = run(net, x, np.array([[2.0, 0.0, 0.0], [2.0, 0.0, 0.0]]))
    assert together[:, 1:].abs().max() == 0  # only the scalar survives
    apart = run(net, x, np.array([[2.0, 0.0, 0.0], [2.0 + 1e-12, 0.0, 0.0]]))
    assert apart[:, 1:].abs().max() > 1e-3


@settings(max_examples=10, deadline=None)
@given(n=st.integers(2, 50), seed=st.integers(0, 2**32 - 1), spread=st.floats(0.1, 5.0))
def test_property_radius_graph(n, seed, spread):
    """Radius graphs on random clouds: finite, translation and permutation equivariant."""
    rng = np.random.default_rng(seed)
    net = SMALL_RADIUS_NETWORK
    positions = rng.normal(size=(n, 3)) * spread
    x = np.ones((n, 1))
    out = run(net, x, positions)
    assert torch.isfinite(out).all()
    permutation = rng.permutation(n)
    moved = run(net, x, positions[permutation] + rng.normal(size=3))
    assert float((moved - out[permutation]).abs().max()) <= 1e-9 * scale(out)


SMALL_RADIUS_NETWORK = make_network(ModelConfig(radius=1.0, **SMALL))


def test_activation_scales_are_e3nns():
    """The stored second-moment constants are the ones e3nn's normalize2mom computes."""
    from e3nn.math import normalize2mom

    softplus = normalize2mom(lambda x: torch.nn.functional.softplus(x, beta=5.0)).cst
    assert activations.SOFTPLUS_SCALE == pytest.approx(softplus, rel=1e-12)
    assert activations.SIGMOID_SCALE == pytest.approx(normalize2mom(torch.sigmoid).cst, rel=1e-12)


def test_clebsch_gordan_is_e3nns_wigner_3j():
    """Racah's formula in floating point gives e3nn's exact real coefficients, for every l <= 6."""
    from engine.network.clebsch_gordan import clebsch_gordan

    for l1 in range(7):
        for l2 in range(7):
            for l3 in range(abs(l1 - l2), min(6, l1 + l2) + 1):
                expected = o3.wigner_3j(l1, l2, l3, dtype=torch.float64)
                assert np.abs(clebsch_gordan(l1, l2, l3) - expected.numpy()).max() <= 1e-14


def test_all_pairs_refuses_large_point_sets():
    """All pairs of many points would need N^2 edges: a clear error asks for a radius instead."""
    with pytest.raises(ValueError, match="set a graph radius"):
        edges(np.zeros((101, 3)))
    source, _ = edges(np.random.default_rng(0).uniform(0, 20, size=(501, 3)), 1.0)
    assert len(source) < 501 * 501
    with pytest.raises(ValueError, match="set a graph radius"):
        api.check_problem(np.zeros((101, 3)), np.zeros((101, 3)), ModelConfig())


def test_gate_is_e3nns_gate_and_equivariant(float64_default):
    """The one gate equals e3nn's ``nn.Gate`` with the seed's activations, and is equivariant."""
    from e3nn import nn
    from e3nn.util.test import assert_equivariant

    from engine.network.gate import Gate

    gated = hidden_irreps(3)[1:]
    gate = Gate(gated)
    plain = nn.Gate("0e", [activations.softplus], "3x0e", [torch.sigmoid], gated)
    x = torch.randn(10, gate.irreps_in.dim, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(gate(x), plain(x), rtol=0, atol=1e-14)
    assert_equivariant(gate)


def test_gate_backward_is_autograd(float64_default):
    """The planned executor's hand-derived gate gradient equals autograd's."""
    from engine.network.gate import Gate

    gate = Gate(hidden_irreps(3)[1:])
    generator = torch.Generator().manual_seed(6)
    x = torch.randn(gate.irreps_in.dim, 7, generator=generator, requires_grad=True)
    grad = torch.randn(gate.irreps_out.dim, 7, generator=generator)
    tape: list = []
    gate.unscaled(x, tape).backward(grad)
    torch.testing.assert_close(gate.backward(grad, tape), x.grad, rtol=0, atol=1e-14)
