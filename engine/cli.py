"""``python -m engine``: train on a preset task or on point files, analyse symmetry, with or
without vertex types (``--types``).

Bad input exits with status 2 and one line on stderr; ``--json`` prints exactly one JSON
object on stdout; progress goes to stderr (a bar on a terminal).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tokenize

import numpy as np

from . import api

__all__ = ["main"]


class InputError(Exception):
    """Bad command-line input: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block
        raise InputError(message)


MAX_FILE_POINTS = 10_000_000  # points in one input file (240 MB as float64)
MAX_JSON_BYTES = 256 * 2**20


def shown(path: str) -> str:
    """A path as it can be printed on one line: control characters (newlines) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(path))


@contextlib.contextmanager
def _reading(path: str, what: str):
    """Reading ``what`` from the file at ``path``, yielding its name as shown: a missing file and
    any error while reading become one-line :class:`InputError` messages."""
    name = shown(path)
    if not os.path.isfile(path):
        raise InputError(f"{name}: no such file")
    try:
        yield name
    except InputError:
        raise
    except RecursionError:
        raise InputError(f"{name}: cannot read {what} (lists nested too deeply)") from None
    # numpy reads a .npy header with Python's tokenizer: a broken one may raise its TokenError
    except (OSError, ValueError, EOFError, SyntaxError, tokenize.TokenError, OverflowError, MemoryError,
            TypeError) as error:
        detail = shown(str(error) or type(error).__name__)[:200]
        raise InputError(f"{name}: cannot read {what} ({detail})") from None


def read_points(path: str) -> np.ndarray:
    """``(N, 3)`` points from a ``.npy`` array or a ``.json`` list of ``[x, y, z]``.

    A ``.npy`` file's header is checked before its data is read: real numbers (not complex,
    not objects) of shape ``(N, 3)`` with :math:`N \\le` :data:`MAX_FILE_POINTS` that the file
    really holds. Anything unreadable raises :class:`InputError` with one line.
    """
    with _reading(path, "points") as name:
        if path.endswith(".npy"):
            points = _read_npy(path, name)
        elif path.endswith(".json"):
            if os.path.getsize(path) > MAX_JSON_BYTES:
                raise InputError(f"{name}: a JSON point file may have at most {MAX_JSON_BYTES // 2**20} MiB")
            with open(path, encoding="utf-8") as file:
                points = json.load(file)
        else:
            raise InputError(f"{name}: expected a .npy or .json file")
    try:
        return api.check_points(points, name)
    except (ValueError, OverflowError, RecursionError) as error:
        raise InputError(shown(str(error))[:300]) from None


def _read_npy(path: str, name: str) -> np.ndarray:
    """A ``.npy`` array whose header promises real numbers of shape ``(N, 3)`` within the bound."""
    with open(path, "rb") as file:
        version = np.lib.format.read_magic(file)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(file)  # headers over 10,000 bytes raise ValueError
        if dtype.kind not in "biuf" or dtype.hasobject:
            raise InputError(f"{name}: expected real numbers, got {'complex' if dtype.kind == 'c' else dtype} values")
        if len(shape) != 2 or shape[1] != 3 or not 0 < shape[0] <= MAX_FILE_POINTS:
            raise InputError(f"{name}: expected an array of shape (N, 3) with N at most {MAX_FILE_POINTS:,}, "
                             f"got {shape}")
        if file.tell() + shape[0] * 3 * dtype.itemsize != os.path.getsize(path):
            raise InputError(f"{name}: its header promises {shape[0]:,} points, but the file holds a different amount")
        return np.fromfile(file, dtype=dtype, count=shape[0] * 3).reshape(shape, order="F" if fortran else "C")


def read_types(path: str, count: int) -> np.ndarray:
    """``(count,)`` integer vertex types from a ``.npy`` array or a text file of one integer a
    line (blank lines ignored); anything else raises :class:`InputError` with one line."""
    with _reading(path, "types") as name:
        if path.endswith(".npy"):
            types = _read_npy_types(path, name)
        else:
            if os.path.getsize(path) > MAX_JSON_BYTES:
                raise InputError(f"{name}: a types file may have at most {MAX_JSON_BYTES // 2**20} MiB")
            with open(path, encoding="utf-8") as file:
                types = _integers(file, name)
    if len(types) != count:
        raise InputError(f"{name}: {len(types):,} types for {count:,} points; give one integer per point")
    return types


def _integers(lines, name: str) -> np.ndarray:
    """The integers of a text file, one a line; :class:`InputError` naming the first line that is not one."""
    values = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            values.append(int(text))
        except ValueError:
            raise InputError(f"{name}: line {number} is {shown(text)[:40]!r}, not an integer") from None
        if len(values) > MAX_FILE_POINTS:
            raise InputError(f"{name}: more than {MAX_FILE_POINTS:,} types")
    return np.array(values, dtype=np.int64)


def _read_npy_types(path: str, name: str) -> np.ndarray:
    """A ``.npy`` array whose header promises integers of shape ``(N,)`` within the bound."""
    with open(path, "rb") as file:
        version = np.lib.format.read_magic(file)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(file)
        if dtype.kind not in "iu" or dtype.hasobject:
            raise InputError(f"{name}: expected integer types, got {dtype} values")
        if len(shape) != 1 or not 0 < shape[0] <= MAX_FILE_POINTS:
            raise InputError(f"{name}: expected an array of shape (N,) with N at most {MAX_FILE_POINTS:,}, got {shape}")
        if file.tell() + shape[0] * dtype.itemsize != os.path.getsize(path):
            raise InputError(f"{name}: its header promises {shape[0]:,} types, but the file holds a different amount")
        return np.fromfile(file, dtype=dtype, count=shape[0])


def _progress(total: int):
    """A callback drawing a bar on a terminal, or a line every 10% otherwise."""
    tty = sys.stderr.isatty()

    def show(iteration: int, loss: float) -> None:
        done = iteration + 1
        if tty:
            bar = "#" * (30 * done // total)
            end = "\n" if done == total else ""
            print(f"\r[{bar:<30}] {done}/{total} loss {loss:.3e}", end=end, file=sys.stderr, flush=True)
        elif done == total or done % max(1, total // 10) == 0:
            print(f"iteration {done}/{total} loss {loss:.3e}", file=sys.stderr, flush=True)

    return show


def _train(args) -> dict:
    if args.task:
        if args.start or args.target:
            raise InputError("give either --task or --start and --target, not both")
        if args.task not in api.TASKS:
            raise InputError(f"unknown task {args.task!r}; choose from {', '.join(api.TASKS)}")
        task = api.TASKS[args.task]
        name, start, target, order_parameter = task.name, task.start, task.target, task.order_parameter
    else:
        if not (args.start and args.target):
            raise InputError("give --task NAME, or both --start and --target")
        start, target = read_points(args.start), read_points(args.target)
        name, order_parameter = "custom", None
    types = None if args.types is None else read_types(args.types, len(start))
    radius = api.automatic_radius(start) if args.radius is None else args.radius
    config = api.ModelConfig(lmax=args.lmax, radius=radius, hub=args.hub, output=args.output,
                             channels=args.channels or None)
    breaking = None
    if args.breaking != "none":
        order_parameter, breaking = _breaking_input(args.breaking, start, target, types, order_parameter, config, args)
    steps = api.training_budget(api.count_edges(start, config.radius)) if args.iterations is None else args.iterations
    trained = api.train(start, target, config=config, order_parameter=order_parameter, types=types,
                        iterations=steps, lr=args.lr, seed=args.seed, progress=_progress(steps))
    summary = api.model_summary(trained.model)
    result = trained.prediction
    return {
        "task": name,
        "iterations": len(trained.loss_history),
        "final_loss": trained.final_loss,
        "loss_history": trained.loss_history.tolist(),
        "seconds": trained.seconds,
        "start": start.tolist(),
        "target": target.tolist(),
        "predicted": result.predicted.tolist(),
        "displacements": result.displacements.tolist(),
        "ambiguous": result.ambiguous.tolist(),
        "peaks": [p.tolist() for p in result.peaks],
        "max_position_error": float(np.linalg.norm(result.predicted - target, axis=1).max()),
        "fit": trained.fit.to_dict(),
        "fit_summary": trained.fit.summary(),
        "features": summary["features_irreps"],
        "types": summary["types"],
        "order_parameter": breaking,
    }


def _breaking_input(mode, start, target, types, order_parameter, config, args):
    """The order parameter found by group theory (``auto``) or by gradient descent
    (``learned``), and what was found, for the JSON output."""
    if mode == "auto":
        record = api.analyze(start, target, types=types, lmax=config.lmax)
        found = record["order_parameter"]
        if record["learnable"]:
            return order_parameter, {"mode": mode, "description": "none needed: the target is learnable"}
        if found is None:
            raise InputError(f"no global order parameter up to L={config.lmax} makes the target learnable")
        print(f"order parameter: {found['description']}", file=sys.stderr)
        return api.OrderParameter.from_dict(found), {"mode": mode, **found}
    learned = api.learn_order_parameter(start, target, config=config, types=types, seed=args.seed).order_parameter
    print(f"order parameter {learned.description}", file=sys.stderr)
    return learned, {"mode": mode, **learned.to_dict()}


def _analyze(args) -> dict:
    start, target = read_points(args.start), read_points(args.target)
    if len(start) != len(target):
        raise InputError(f"start has {len(start)} points but target has {len(target)}")
    types = None if args.types is None else read_types(args.types, len(start))
    return api.analyze(start, target, types=types, lmax=args.lmax, radius=args.radius, layers=args.layers,
                       hub=args.hub)


def _summary(result: dict) -> str:
    if "kept_group" in result:
        return result["verdict"] + (f"\n{result['local']['sentence']}" if result["local"] else "")
    ambiguous = sum(result["ambiguous"])
    return (f"{result['task']}: {result['iterations']} iterations in {result['seconds']:.2f} s, "
            f"final loss {result['final_loss']:.3e}, {result['fit_summary']}, "
            f"{ambiguous} of {len(result['ambiguous'])} points ambiguous")


NO_HUB_HELP = "on a radius graph, no hub (a point at the centroid joined to every vertex)"
TYPES_HELP = ("vertex types, one integer a line or a .npy (N,) array: only points of one type are exchanged by "
              "a symmetry, and the network reads each point's type")


def parser() -> argparse.ArgumentParser:
    root = _Parser(prog="python -m engine", description="SymBreak engine: equivariant networks and symmetry breaking")
    commands = root.add_subparsers(dest="command", required=True, parser_class=_Parser)
    train = commands.add_parser("train", help="train the network to move START onto TARGET")
    train.add_argument("--task", help="a preset: rectangle-to-square, square-to-rectangle, square-to-rectangle-broken")
    train.add_argument("--start", help="start points, .npy (N, 3) or .json [[x, y, z], ...]")
    train.add_argument("--target", help="target points, same format and length as --start")
    train.add_argument("--iterations", type=int, default=None,
                       help="most steps (default: from the graph's size); training stops once it fits or stalls")
    train.add_argument("--lr", type=float, default=api.LR, help="learning rate the cosine schedule starts from")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--lmax", type=int, default=5)
    train.add_argument("--channels", type=int, default=0, help="hidden copies of each degree (default 0: one over "
                       f"all pairs, as in the seed, {api.MESH_CHANNELS} on a radius graph)")
    train.add_argument("--radius", type=float, default=None, help="graph radius (default: all pairs up to 100 points, "
                       "else one chosen from the points)")
    train.add_argument("--no-hub", dest="hub", action="store_false", help=NO_HUB_HELP)
    train.add_argument("--output", choices=["signal", "vector"], default="signal")
    train.add_argument("--breaking", choices=["none", "auto", "learned"], default="none",
                       help="add an order parameter: by group theory (auto) or by gradient descent (learned)")
    train.add_argument("--types", help=TYPES_HELP)
    train.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    analyze = commands.add_parser("analyze", help="point groups and the Curie check before training")
    analyze.add_argument("--start", required=True)
    analyze.add_argument("--target", required=True)
    analyze.add_argument("--lmax", type=int, default=5)
    analyze.add_argument("--types", help=TYPES_HELP)
    analyze.add_argument("--radius", type=float, default=None,
                         help="the network's graph radius: also check the vertices it cannot tell apart")
    analyze.add_argument("--layers", type=int, default=3, help="the network's layers (with --radius)")
    analyze.add_argument("--no-hub", dest="hub", action="store_false", help=NO_HUB_HELP)
    analyze.add_argument("--json", action="store_true")
    return root


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
        result = _train(args) if args.command == "train" else _analyze(args)
    except (InputError, ValueError) as error:
        print(f"error: {shown(str(error))}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: out of memory; try fewer points or a smaller graph radius", file=sys.stderr)
        return 2
    print(json.dumps(result) if args.json else _summary(result))
    return 0
