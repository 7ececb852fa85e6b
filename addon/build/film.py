# SPDX-License-Identifier: GPL-3.0-or-later
"""The film: a story in acts read from ``acts.toml``, built as ordinary Blender data.

Every task keeps its place; the camera looks straight down (orthographic) and never moves, so
captions, titles and the legend sit fixed in the frame. In each act one task is the subject and
the others are dimmed (their materials keyframed darker). What each act shows:

- its title and caption (and a later caption that replaces it);
- the subject's signal surfaces at the start positions, scaled so that a peak's tip marks the
  displacement, arrows from start to target and the motion start → predicted;
- the subject's loss curve (log scale) growing while the points move;
- for a 'tie': a ring around one corner and both outcomes the symmetry allows, dashed;
- for an 'order parameter': its surface at the centre of the points and its name;
- for a 'rotation': the input turning about its centre, its signals turning with it, then the
  motion once more.

The tasks' results come in as :class:`FilmTask` data; nothing here runs the network.
"""

from __future__ import annotations

import dataclasses
import math
import textwrap
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import bpy
import numpy as np

from ...engine import api
from .. import mesh
from ..storage import StoredPrediction
from . import loss, shapes, text
from .animation import animate
from .camera import frame_size, top_camera
from .keys import clear_keys, key_visible
from .materials import key_brightness, material, own_copy
from .objects import fresh_collection
from .points import show_as_points
from .surfaces import order_parameter_object, signal_object, surface_mesh

SCRIPT = Path(__file__).with_name("acts.toml")
FILM_COLLECTION = "SymBreak Film"
TEXT_ROLE = "symbreak_text"

# Cap heights as fractions of the frame height (a room needs 4–5 % for reading).
TITLE, CAPTION, LABEL = 0.062, 0.048, 0.038
# Bands of the frame, as fractions of its height from the top: (top, bottom).
# Where things sit, as fractions of the frame's height from its top.
TITLE_TOP, LEGEND_MIDDLE, CAPTION_BOTTOM = 0.03, 0.165, 0.975
TASK_BAND, PLOT_BAND = (0.225, 0.605), (0.685, 0.805)
MARKS_Z = 1.0  # flat marks lie above the signal surfaces (the camera looks down, so height changes no size)


@dataclass(frozen=True)
class FilmTask:
    """One task's results, in its source object's local coordinates.

    surfaces : ``api.Surfaces`` of the prediction's signals at the start positions,
        scale 1 (so that a peak of height |d| reaches the displacement's tip)
    order_parameter : a global input's Surfaces and its name in plain words, or None
    """

    source: bpy.types.Object
    prediction: StoredPrediction
    target: Optional[np.ndarray]
    losses: np.ndarray
    surfaces: api.Surfaces
    order_parameter: Optional[tuple[api.Surfaces, str]] = None
    verdict: str = ""


@dataclass(frozen=True)
class Act:
    """One act: its kind, inclusive frame range, subject (a task's index or None) and wording."""

    name: str
    kind: str
    first: int
    last: int
    subject: Optional[int]
    title: str
    caption: str
    later_caption: str = ""
    later: Optional[int] = None
    motion: Optional[tuple[int, int]] = None
    rotate: Optional[tuple[int, int]] = None
    angle: float = 0.0
    others: float = 0.3


@dataclass
class Film:
    acts: list[Act]
    frame: tuple[float, float, float, float]          # centre x, centre y, width, height (world)
    texts: list[bpy.types.Object] = field(default_factory=list)


def script(name: str, path: Path = SCRIPT) -> list[dict[str, Any]]:
    """The acts of film ``name`` {'seed', 'own'} from the script file."""
    with open(path, "rb") as f:
        return list(tomllib.load(f)[name])


def timeline(entries: list[dict[str, Any]], fps: int, words: list[dict[str, str]], *, start: int = 1) -> list[Act]:
    """Acts with frame ranges at ``fps``, back to back from frame ``start``: an act of ``s``
    seconds lasts :math:`\\max(1, \\mathrm{round}(s \\cdot fps))` frames; times inside it are
    clipped to it. ``words[i]`` fills the captions of task ``i`` ({loss}, {name}, ...)."""
    acts, first = [], start
    for i, entry in enumerate(entries):
        length = max(1, round(float(entry["seconds"]) * fps))
        last = first + length - 1

        def at(seconds: float) -> int:
            return min(last, first + round(seconds * fps))

        def span(key: str) -> Optional[tuple[int, int]]:
            if key not in entry:
                return None
            begin, finish = (at(float(t)) for t in entry[key])
            return begin, max(begin, finish)

        subject = int(entry["task"]) - 1 if "task" in entry else None
        fill = words[subject] if subject is not None else (words[0] if len(words) == 1 else {})
        acts.append(Act(
            name=f"{i + 1} {entry['kind']}", kind=str(entry["kind"]), first=first, last=last, subject=subject,
            title=str(entry.get("title", "")).format(**fill), caption=str(entry.get("caption", "")).format(**fill),
            later_caption=str(entry.get("later_caption", "")).format(**fill),
            later=at(float(entry["later"])) if "later" in entry else None,
            motion=span("motion"), rotate=span("rotate"), angle=float(entry.get("angle", 0.0)),
            others=float(entry.get("others", 0.3))))
        first = last + 1
    return acts


def words(task: FilmTask) -> dict[str, str]:
    """What captions may name about a task."""
    final = float(task.losses[-1]) if len(task.losses) else float("nan")
    return {"loss": loss.power_of_ten(final), "name": task.source.name, "verdict": task.verdict,
            "order_parameter": task.order_parameter[1] if task.order_parameter else ""}


# --- layout -------------------------------------------------------------------------------------

def _local_extent(task: FilmTask, angles: list[float]) -> np.ndarray:
    """Every local point the task may draw, at each rotation about z in ``angles`` (radians)."""
    p = task.prediction
    points = [p.start, p.predicted, task.surfaces.vertices.reshape(-1, 3)]
    if task.target is not None:
        points.append(task.target)
    points += [s + np.asarray(k).reshape(-1, 3) for s, k in zip(p.start, p.peaks)]
    local = np.concatenate(points)
    out = []
    for a in angles:
        c, s = math.cos(a), math.sin(a)
        out.append(local @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T)
    return np.concatenate(out)


def task_boxes(tasks: list[FilmTask], acts: list[Act]) -> list[np.ndarray]:
    """World ``[[xmin, ymin], [xmax, ymax]]`` of what each task draws over the film."""
    boxes = []
    for i, task in enumerate(tasks):
        angles = [0.0] + [math.radians(a.angle) for a in acts if a.subject == i and a.kind == "rotation"]
        world = mesh.to_world(task.source, _local_extent(task, angles))[:, :2]
        boxes.append(np.array([world.min(axis=0), world.max(axis=0)]))
    return boxes


def layout(boxes: list[np.ndarray], aspect: float,
           levels: tuple[float, float]) -> tuple[tuple[float, float, float, float], list[loss.Plot]]:
    """The frame ``(cx, cy, width, height)`` and a loss plot per task, spanning ``levels``
    (log10 of the lowest and highest loss).

    With several tasks they stand in columns, each with its plot below; a single task stands on
    the left with its plot on the right. Tasks fill the band ``TASK_BAND`` of the frame's
    height; columns, 0.96 of the pitch between tasks wide, fill 97 % of its width."""
    low = np.min([b[0] for b in boxes], axis=0)
    high = np.max([b[1] for b in boxes], axis=0)
    size = high - low
    top, bottom = TASK_BAND
    if len(boxes) > 1:
        centres = np.array(sorted(0.5 * (b[0][0] + b[1][0]) for b in boxes))
        pitch = float(np.diff(centres).min())
        low[0], high[0] = min(low[0], centres[0] - 0.48 * pitch), max(high[0], centres[-1] + 0.48 * pitch)
        size = high - low
        height = max(size[1] / (bottom - top), size[0] / 0.97 / aspect)
        width = height * aspect
        cx = 0.5 * (low[0] + high[0])
        frame_top = high[1] + top * height + 0.5 * ((bottom - top) * height - size[1])
        cy = frame_top - 0.5 * height
        plot_top, plot_bottom = PLOT_BAND
        plots = []
        for b in boxes:
            xc = 0.5 * (b[0][0] + b[1][0])  # ticks take 0.22 pitch on the left, the final loss 0.32 on the right
            plots.append(loss.Plot(xc - 0.26 * pitch, frame_top - plot_bottom * height, 0.4 * pitch,
                                   (plot_bottom - plot_top) * height, *levels))
        return (cx, cy, width, height), plots
    # one task: object on the left half, loss plot on the right
    height = max(size[1] / (bottom - top + 0.1), size[0] / (0.46 * aspect))
    width = height * aspect
    left = low[0] - 0.04 * width - 0.5 * (0.46 * width - size[0])
    cx = left + 0.5 * width
    frame_top = high[1] + top * height + 0.5 * ((bottom - top + 0.1) * height - size[1])
    cy = frame_top - 0.5 * height
    plot = loss.Plot(left + 0.62 * width, frame_top - 0.68 * height, 0.22 * width, 0.36 * height, *levels)
    return (cx, cy, width, height), [plot]


# --- building -----------------------------------------------------------------------------------

def _subject_spans(acts: list[Act], i: int) -> list[Act]:
    return [a for a in acts if a.subject == i]


def _brightness(acts: list[Act], i: int) -> list[tuple[int, float]]:
    return [(a.first, 1.0 if a.subject == i else a.others) for a in acts]


def _materials(task_name: str) -> dict[str, bpy.types.Material]:
    kinds = ("points", "target", "ghost", "arrow", "outline", "highlight", "signal", "signal negative", "text",
             "axis", "loss")
    return {kind: own_copy(material(kind), task_name) for kind in kinds}


def _own_signal_materials(obj: bpy.types.Object, mats: dict[str, bpy.types.Material]) -> None:
    """Give a signal mesh the task's copies, slot by slot (clearing the slots would renumber faces)."""
    materials = mesh.mesh_data(obj).materials
    materials[0], materials[1] = mats["signal"], mats["signal negative"]


def _film_signals(source: bpy.types.Object, surf: api.Surfaces, name: str, collection: bpy.types.Collection,
                       mats: dict[str, bpy.types.Material]) -> bpy.types.Object:
    """Signal surfaces drawn for the film only, parented to ``source``."""
    obj = bpy.data.objects.new(name, surface_mesh(name, surf))
    collection.objects.link(obj)
    obj.parent = source
    obj.symbreak.role = 'LABEL'  # type: ignore[attr-defined]  # registered at runtime
    _own_signal_materials(obj, mats)
    return obj


def _mark(name: str, shape: shapes.Shape, mat: bpy.types.Material, source: bpy.types.Object,
          collection: bpy.types.Collection, shown: list[tuple[int, int]], z: float = 0.0) -> bpy.types.Object:
    """A flat mark in ``source``'s local coordinates, parented to it, shown over ``shown``."""
    vertices, faces = shape
    obj = shapes.flat_object(name, (vertices + (0.0, 0.0, MARKS_Z + z), faces), mat, collection)
    obj.parent = source
    obj.symbreak.role = 'LABEL'  # type: ignore[attr-defined]  # registered at runtime
    key_visible(obj, shown)
    return obj


def _outcomes(p: StoredPrediction, target: np.ndarray) -> list[np.ndarray]:
    """Both outcomes of a tie, each ``(N, 3)``: every point moved as far as its target, towards
    its tied peak nearest to the target and towards the one farthest from it (points without a
    tie towards their one peak)."""
    near, far = [], []
    for s, t, peaks in zip(p.start, target, p.peaks):
        peaks = np.asarray(peaks).reshape(-1, 3)
        ends = s + peaks / np.linalg.norm(peaks, axis=1, keepdims=True) * np.linalg.norm(t - s)
        order = np.argsort(np.linalg.norm(ends - t, axis=1))
        near.append(ends[order[0]])
        far.append(ends[order[-1]])
    return [np.array(near), np.array(far)]


def _inset(task: FilmTask, corner: int, centre: np.ndarray, radius: float) -> tuple[api.Surfaces, np.ndarray]:
    """One point's signal surface magnified into a circle of ``radius`` at ``centre`` (local),
    and where its peaks' tips land there ``(k, 3)``."""
    surf, p = task.surfaces, task.prediction
    here = surf.vertices[corner] - p.start[corner]
    scale = 0.8 * radius / np.linalg.norm(here, axis=1).max()
    zoomed = dataclasses.replace(surf, vertices=(centre + scale * here)[None], values=surf.values[corner][None])
    return zoomed, centre + scale * np.asarray(p.peaks[corner]).reshape(-1, 3)


def build(scene: bpy.types.Scene, entries: list[dict[str, Any]], tasks: list[FilmTask], *, fps: int,
          point_radius: float = 0.07, keep_range: bool = False) -> Film:
    """Build the film of ``entries`` (:func:`script`) over ``tasks`` in ``scene``: its acts from
    frame 1, the camera, the texts and every task's marks and keys. The scene's frame range
    becomes the film's unless ``keep_range``. Texts outside the film are hidden from the render."""
    collection = fresh_collection(scene, FILM_COLLECTION)
    scene.frame_set(1)  # the objects at rest: a previous film's keys leave them unturned here
    acts = timeline(entries, fps, [words(t) for t in tasks])
    render = scene.render
    aspect = render.resolution_x * render.pixel_aspect_x / (render.resolution_y * render.pixel_aspect_y)
    levels = np.log10(np.concatenate([t.losses[t.losses > 0] for t in tasks] + [np.ones(1)]))
    (cx, cy, width, height), plots = layout(task_boxes(tasks, acts), aspect,
                                            (math.floor(levels.min()), math.ceil(levels.max())))
    top_camera(scene, (cx, cy), width)
    width, height = frame_size(scene)
    frame_top = cy + 0.5 * height
    end = acts[-1].last
    for obj in scene.objects:
        if obj.type == 'FONT' and obj.symbreak.role == 'LABEL' and collection not in obj.users_collection:  # type: ignore[attr-defined]
            obj.hide_render = True  # the add-on's own labels would overlap the film's
    film = Film(acts, (cx, cy, width, height))

    for i, task in enumerate(tasks):
        _build_task(scene, collection, acts, i, task, plots[i], height, point_radius, end)

    placed: list[bpy.types.Object] = []

    def caption_text(name: str, body: str, cap: float, kind: str, shown: tuple[int, int]) -> None:
        if body:
            obj = text.sized(name, body, (cx, 0.0, 0.0), cap * height, collection, kind=kind)
            key_visible(obj, [shown])
            placed.append(obj)

    for act in acts:
        caption_text(f"Title {act.name}", act.title, TITLE, 'TITLE', (act.first, act.last))
        switch = act.later if act.later is not None and act.later_caption else act.last + 1
        caption_text(f"Caption {act.name}", act.caption, CAPTION, 'CAPTION',
                     (act.first, switch - 1))
        if switch <= act.last:
            caption_text(f"Later {act.name}", act.later_caption, CAPTION, 'CAPTION',
                         (switch, act.last))
    _fit(placed, 0.94 * width)
    for obj in placed:
        corners = np.array([tuple(c) for c in obj.bound_box])
        if obj[text.KIND] == 'TITLE':  # titles hang from the top band, captions stand on the bottom margin
            obj.location.y = frame_top - TITLE_TOP * height - corners[:, 1].max()
        else:
            obj.location.y = frame_top - CAPTION_BOTTOM * height - corners[:, 1].min()
    legend_ranges = [(a.first, a.last) for a in acts if a.kind != "card"]
    if legend_ranges:
        ghosts = any(t.prediction.ambiguous.any() for t in tasks)
        _legend(collection, (cx, frame_top - LEGEND_MIDDLE * height), LABEL * height,
                              legend_ranges, ghosts, point_radius)
    film.texts.extend(o for o in collection.all_objects if o.type == 'FONT')
    if not keep_range:
        scene.frame_start, scene.frame_end = acts[0].first, end
    render.fps, render.fps_base = fps, 1.0
    scene.frame_set(scene.frame_start)
    return film


def _build_task(scene: bpy.types.Scene, collection: bpy.types.Collection, acts: list[Act], i: int,
                task: FilmTask, plot: loss.Plot, height: float, point_radius: float, end: int) -> None:
    """Signals, motion, marks, loss plot, dimming and visibility of task ``i``."""
    source, p = task.source, task.prediction
    name = source.name
    mats = _materials(name)
    mine = _subject_spans(acts, i)
    debut = mine[0].first if mine else end + 1
    shown = [(debut, end)]
    motions = [(a.first, *a.motion) for a in mine if a.motion is not None]  # (back to the start, first, last)

    show_as_points(source, point_radius, 'points', mats["points"])
    signals = signal_object(source, task.surfaces)
    _own_signal_materials(signals, mats)
    key_visible(signals, shown)
    first_motion = motions[0][1:] if motions else (end + 1, end + 2)
    animate(source, p, frame_start=first_motion[0], frame_end=first_motion[1], easing='EASE_IN_OUT',
            target=None if any(a.kind == "tie" for a in mine) else task.target, show_ambiguous=True, signals_motion='STATIC', point_radius=point_radius,
            again=tuple(motions[1:]), colors=mats)
    for child in source.children:
        if child.symbreak.role in {'TARGET', 'GHOSTS'}:  # type: ignore[attr-defined]  # registered at runtime
            key_visible(child, shown)
    introduced = [a.first for a in mine if a.kind == "order parameter"]
    if task.order_parameter is not None and introduced:  # before the marks: it replaces the source's labels
        surface = order_parameter_object(source, task.order_parameter[0])
        _own_signal_materials(surface, mats)
        key_visible(surface, [(introduced[0], end)])
        centre = p.start.mean(axis=0)
        spokes = shapes.join(*(shapes.dashed(np.array([centre, s]), 0.3 * point_radius, 1.2 * point_radius,
                                             closed=False) for s in p.start))
        _mark(f"{name} Shared Input", spokes, mats["highlight"], source, collection, [(introduced[0], end)], z=-0.02)

    radius = point_radius
    tie = any(a.kind == "tie" for a in mine)
    if task.target is not None and not tie:  # a tie shows both outcomes instead
        _mark(f"{name} Arrows", shapes.arrow(p.start, task.target, 0.45 * radius, 2.2 * radius),
              mats["arrow"], source, collection, shown, z=-0.01)
    for act in mine:
        if act.kind == "tie" and p.ambiguous.any():
            corner = int(np.argmax(np.where(p.ambiguous, p.start[:, 0] + p.start[:, 1], -np.inf)))
            reach = max(np.linalg.norm(np.asarray(p.peaks[corner]).reshape(-1, 3), axis=1).max(), 3 * radius)
            ring = 1.35 * reach
            _mark(f"{name} Corner", shapes.ring(p.start[corner], ring, 0.5 * radius), mats["highlight"],
                  source, collection, [(act.first, act.last)])
            box = _local_extent(task, [0.0])
            inset_radius = 0.4 * (box[:, 1].max() - box[:, 1].min())
            centre = np.array([box[:, 0].max() + 1.2 * inset_radius, p.start[corner][1] - 0.6 * inset_radius, 0.0])
            zoomed, tips = _inset(task, corner, centre, inset_radius)
            lens = _film_signals(source, zoomed, f"{name} Zoom", collection, mats)
            key_visible(lens, [(act.first, act.last)])
            towards = centre - p.start[corner]
            towards /= np.linalg.norm(towards)
            _mark(f"{name} Zoom Frame", shapes.join(
                shapes.ring(centre, inset_radius, 0.5 * radius),
                shapes.ribbon(np.array([p.start[corner] + ring * towards, centre - inset_radius * towards]),
                              0.35 * radius)), mats["highlight"], source, collection, [(act.first, act.last)])
            _mark(f"{name} Zoom Peaks", shapes.join(*(shapes.disc(tip, 0.9 * radius) for tip in tips)), mats["ghost"],
                  source, collection, [(act.first, act.last)], z=0.01)
            settled = act.motion[1] if act.motion else act.first
            for k, outcome in enumerate(_outcomes(p, task.target) if task.target is not None else []):
                _mark(f"{name} Outcome {k + 1}", shapes.dashed(outcome, 0.4 * radius, 1.6 * radius),
                      mats["outline"], source, collection, [(settled, act.last)], z=0.03)
        if act.kind == "rotation" and act.rotate is not None:
            clear_keys(source, "rotation_euler")
            source.rotation_euler[2] = 0.0
            source.keyframe_insert("rotation_euler", index=2, frame=act.rotate[0])
            source.rotation_euler[2] = math.radians(act.angle)
            source.keyframe_insert("rotation_euler", index=2, frame=act.rotate[1])
            source.rotation_euler[2] = 0.0

    if len(task.losses):
        grow = motions[0][1:] if motions else (debut, debut + 1)
        loss.loss_plot(f"{name} Loss", plot, task.losses, collection, cap=LABEL * height, grow=grow,
                       shown=(debut, end), owner=name, mats=mats)
    for mat in mats.values():
        key_brightness(mat, _brightness(acts, i))


def _fit(texts: list[bpy.types.Object], width: float) -> None:
    """Break the lines of texts wider than ``width`` at spaces, so that each fits, keeping their size."""
    text.update()
    wide = [obj for obj in texts if obj.dimensions[0] > width]
    for obj in wide:
        data = text.text_data(obj)
        longest = max(len(line) for line in data.body.split("\n"))
        columns = max(8, int(longest * width / obj.dimensions[0]))
        data.body = "\n".join(textwrap.fill(line, columns) for line in data.body.split("\n"))
    if wide:
        text.update()


def _legend(collection: bpy.types.Collection, at: tuple[float, float], cap: float,
            shown: list[tuple[int, int]], ghosts: bool, point_radius: float) -> list[bpy.types.Object]:
    """One row, centred at ``at``: a swatch and a word for each mark that matters."""
    entries = [("points", "point"), ("target", "target"), ("ghost", "tied peak"), ("signal", "signal > 0"),
               ("signal negative", "signal < 0")]
    if not ghosts:
        entries = [e for e in entries if e[0] != "ghost"]
    texts, widths = [], []
    for kind, word in entries:
        obj = text.sized(f"Legend {word}", word, (0.0, at[1], 0.0), cap, collection, align='LEFT',
                         vertical='CENTER', kind='LABEL')
        texts.append(obj)
    text.update()
    widths = [float(o.dimensions[0]) for o in texts]
    swatch, gap = 1.4 * cap, 1.6 * cap
    total = sum(swatch + 0.5 * cap + w for w in widths) + gap * (len(texts) - 1)
    x = at[0] - 0.5 * total
    made = []
    for (kind, _), obj, w in zip(entries, texts, widths):
        centre = np.array([x + 0.5 * swatch, at[1] + 0.02 * cap, 0.0])
        shape = shapes.disc(centre, 0.5 * swatch) if kind in {"points", "target", "ghost"} else \
            shapes.square(centre, 0.8 * swatch)
        mark = shapes.flat_object(f"Legend {kind} swatch", shape, material(kind), collection)
        obj.location.x = x + swatch + 0.5 * cap
        key_visible(mark, shown)
        key_visible(obj, shown)
        made.append(obj)
        x += swatch + 0.5 * cap + w + gap
    return made
