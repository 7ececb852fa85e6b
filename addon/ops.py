# SPDX-License-Identifier: GPL-3.0-or-later
"""Operators. Each wraps the engine or a builder: check input first (``poll`` and ``inputs``),
report bad input with ``self.report`` and return ``{'CANCELLED'}`` before anything changes."""

from __future__ import annotations

import os
import tempfile
from typing import Any, Literal, Optional

import bpy
import numpy as np
from bpy.props import BoolProperty, StringProperty

from . import inputs, props, state, worker
from .build import animation, camera, film, keys, seed, surfaces, video


# Blender's frame range for a new scene: Render Video replaces it with the frames the animation needs.
DEFAULT_RANGE = (1, 250)

# Predict runs in float32 above this many points, which halves its time and memory.
FLOAT32_ABOVE = 4000

# What execute, invoke and modal may return (bpy.types.Operator's own return type).
Result = set[Literal['RUNNING_MODAL', 'CANCELLED', 'FINISHED', 'PASS_THROUGH', 'INTERFACE']]


def _fail(op: bpy.types.Operator, message: str) -> Result:
    op.report({'ERROR'}, message)
    return {'CANCELLED'}


class _SceneOperator(bpy.types.Operator):
    """An undoable operator that needs only a scene; it checks the rest in ``execute``."""

    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return context.scene is not None


class SYMBREAK_OT_add_seed_demo(bpy.types.Operator):
    """Add the tutorial's three tasks side by side, each with a Target shape key and a label"""

    bl_idname = "symbreak.add_seed_demo"
    bl_label = "Add Seed Demo"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return context.scene is not None and context.mode == 'OBJECT'

    def execute(self, context: bpy.types.Context) -> Result:
        sc = context.scene
        if sc is None:
            return _fail(self, "No scene to add the demo to")
        try:
            made = seed.add_seed_demo(sc, point_radius=props.scene_settings(sc).display.point_radius)
        except ImportError as error:
            return _fail(self, f"The SymBreak engine could not be loaded: {error}")
        for obj in context.view_layer.objects:
            obj.select_set(False)
        made[0].select_set(True)
        context.view_layer.objects.active = made[0]
        self.report({'INFO'}, f"Added the seed demo: {', '.join(o.name for o in made)}")
        return {'FINISHED'}


def _curie(start: np.ndarray, target: np.ndarray, extra: Optional[state.OrderParameter]) -> Any:
    """``engine.symmetry.curie_check`` with the input ``extra``: its degrees that matter
    (``OrderParameter.significant``), each ``(l, coefficients)`` block of which must be invariant
    for an operation to be kept."""
    from ..engine import symmetry

    blocks = [] if extra is None else extra.significant()
    return symmetry.curie_check(start, target, feature=blocks or None)


def _symmetry(problem: inputs.Problem) -> dict[str, Any]:
    """``engine.symmetry.analyze`` of the problem, plus the Curie check with its current inputs:
    ``inputs`` names them and ``warning`` says how to fix them ("" when the task is learnable)."""
    from ..engine import symmetry

    start, target, extra = problem.source.start, problem.target, problem.breaking
    analysis = symmetry.analyze(start, target)
    report = _curie(start, target, extra)
    named = "no symmetry-breaking input" if extra is None else f"the input {extra.description}"
    warning = ""
    if not report.learnable:
        fix = analysis["order_parameter"]
        how = (f"add the order parameter {fix['description']} (Use Order Parameter)" if fix else
               "no global order parameter fixes it (see Analyze Symmetry)")
        warning = (f"Not learnable with {named}: the target breaks {len(report.broken)} operations of "
                   f"{report.start_group.name}, keeping {report.kept_name}; {how}")
    return {**analysis, "inputs": named, "warning": warning}


def _checked_symmetry(op: bpy.types.Operator, problem: inputs.Problem) -> Optional[dict[str, Any]]:
    """:func:`_symmetry` for Train, which goes on without it: its warning, or why it failed, is reported."""
    try:
        checked = _symmetry(problem)
    except ValueError as error:
        op.report({'WARNING'}, f"Symmetry check skipped: {error}")
        return None
    if checked["warning"]:
        op.report({'WARNING'}, checked["warning"])
    return checked


def _stored(src: inputs.Source, result: Any) -> state.StoredPrediction:
    """An engine prediction (or training result) of the source's vertices, as it is stored."""
    return state.StoredPrediction(
        indices=src.indices, start=src.start, displacements=np.asarray(result.displacements),
        signals=np.asarray(result.signals), ambiguous=np.asarray(result.ambiguous, dtype=bool),
        peaks=[np.asarray(k) for k in result.peaks])


def _store_training(problem: inputs.Problem, result: Any, settings: dict[str, Any],
                    checked: Optional[dict[str, Any]]) -> None:
    """Keep a training ``result`` on the source object with the ``settings`` it started with."""
    from ..engine import checkpoint

    obj = problem.source.obj
    blob = checkpoint.to_bytes(result.model, features=problem.features)
    state.store_model(obj, blob, result.loss_history, settings)
    state.store_target(obj, problem.target)
    state.store_prediction(obj, _stored(problem.source, result))
    own = props.object_settings(obj)
    own.final_loss = float(result.loss_history[-1]) if len(result.loss_history) else 0.0
    own.train_seconds = float(result.seconds)
    if checked is not None:
        state.store_symmetry(obj, checked)


def _summary(obj: bpy.types.Object, result: Any) -> str:
    ambiguous = int(np.count_nonzero(result.ambiguous))
    tied = f", {ambiguous} with tied peaks" if ambiguous else ""
    return (f"Trained {obj.name!r}: {len(result.loss_history)} steps in {result.seconds:.2f} s, "
            f"final loss {props.object_settings(obj).final_loss:.3g}{tied}")


class _Background(bpy.types.Operator):
    """An operator whose engine call runs in a :class:`worker.Job`, one at a time: a timer polls
    the job and Esc cancels it; the result is stored on the main thread. In background mode, or
    without a window, ``invoke`` runs ``execute``, which makes the same call synchronously.

    A subclass checks its input and returns the call's arguments in ``_prepare`` (raising
    ``ValueError``), names the call (``_call``), says what it is ``_doing`` and what the status bar
    shows while it runs (``_running``), and how the result is kept and reported (``_keep``)."""

    _doing = ""
    _timer: Any = None
    _job: Optional[worker.Job] = None
    _obj: Optional[bpy.types.Object] = None

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if worker.current is not None and not worker.current.done:
            cls.poll_message_set(f"SymBreak is already {worker.current.what}")
            return False
        return context.scene is not None

    def _prepare(self, context: bpy.types.Context) -> tuple[bpy.types.Object, dict[str, Any]]:
        """The object worked on and the keyword arguments of ``_call``; ``ValueError`` for bad input."""
        raise NotImplementedError

    def _call(self) -> tuple[Any, int, str]:
        """The engine function, its number of steps and what the job does
        {'training', 'learning', 'predicting'}."""
        raise NotImplementedError

    def execute(self, context: bpy.types.Context) -> Result:
        """Synchronous: background mode and scripts."""
        try:
            self._obj, kwargs = self._prepare(context)
            result = self._call()[0](**kwargs)
        except (ValueError, ImportError) as error:
            return _fail(self, str(error))
        self._keep(context, result)
        return {'FINISHED'}

    def invoke(self, context: bpy.types.Context, event: Any) -> Result:
        if bpy.app.background or context.window is None:
            return self.execute(context)
        try:
            self._obj, kwargs = self._prepare(context)
            fn, total, what = self._call()
        except (ValueError, ImportError) as error:
            return _fail(self, str(error))
        self._job = worker.Job(fn, total, what, **kwargs)
        worker.current = self._job.start()
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.progress_begin(0, max(1, total))
        wm.modal_handler_add(self)
        return {'RUNNING_MODAL'}

    def _running(self, obj: bpy.types.Object, job: worker.Job) -> str:
        raise NotImplementedError

    def _keep(self, context: bpy.types.Context, result: Any) -> None:
        """Store ``result`` on the object and report what was done."""
        raise NotImplementedError

    def _status(self, context: bpy.types.Context, text: Optional[str]) -> None:
        if context.workspace is not None:
            context.workspace.status_text_set(text)
        for area in context.screen.areas if context.screen else []:
            if area.type == 'VIEW_3D':
                area.tag_redraw()

    def _finish(self, context: bpy.types.Context) -> None:
        wm = context.window_manager
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        wm.progress_end()
        self._status(context, None)

    def modal(self, context: bpy.types.Context, event: Any) -> Result:
        job, obj = self._job, self._obj
        assert job is not None and obj is not None
        if event.type == 'ESC' and event.value == 'PRESS':
            job.cancel()
            job.wait(0.5)
        if not job.done and not job.cancelled:
            if event.type == 'TIMER':
                context.window_manager.progress_update(job.iteration)
                self._status(context, self._running(obj, job))
            return {'PASS_THROUGH'}
        self._finish(context)
        if job.cancelled:  # the job stops at its next step; a result that came first is dropped too
            self.report({'WARNING'}, f"{self._doing.capitalize()} cancelled; nothing was changed")
            return {'CANCELLED'}
        if job.error is not None:
            return _fail(self, f"{self._doing.capitalize()} failed: {job.error}")
        try:
            obj.name  # the object may have been deleted meanwhile
        except ReferenceError:
            return _fail(self, f"The object was deleted while {self._doing}")
        self._keep(context, job.result)
        return {'FINISHED'}

    def cancel(self, context: bpy.types.Context) -> None:
        if self._job is not None:
            self._job.cancel()
        self._finish(context)


class SYMBREAK_OT_train(_Background):
    """Train the network to move the source vertices to the target (Esc cancels)"""

    bl_idname = "symbreak.train"
    bl_label = "Train"
    bl_options = {'REGISTER', 'UNDO'}

    _doing = "training"
    _problem: Optional[inputs.Problem] = None
    _settings: dict[str, Any] = {}
    _checked: Optional[dict[str, Any]] = None

    def _prepare(self, context: bpy.types.Context) -> tuple[bpy.types.Object, dict[str, Any]]:
        """Check the problem, then keep it, the settings it starts with and its Curie check (whose
        warning is reported now)."""
        from ..engine.training import check_problem

        problem = inputs.problem(context)
        check_problem(problem.source.start, problem.target, problem.config, problem.features)
        self._problem, self._settings = problem, inputs.config_dict(context)
        self._checked = _checked_symmetry(self, problem)
        s = self._settings
        return problem.source.obj, dict(start=problem.source.start, target=problem.target, config=problem.config,
                                        features=problem.features, iterations=s["iterations"], lr=s["lr"],
                                        seed=s["seed"])

    def _call(self) -> tuple[Any, int, str]:
        from ..engine import train

        return train, self._settings["iterations"], "training"

    def _running(self, obj: bpy.types.Object, job: worker.Job) -> str:
        return (f"SymBreak: training {obj.name} — step {job.iteration}/{job.total}, loss {job.loss:.4g} "
                "(Esc to cancel)")

    def _keep(self, context: bpy.types.Context, result: Any) -> None:
        assert self._problem is not None
        _store_training(self._problem, result, self._settings, self._checked)
        self.report({'INFO'}, _summary(self._problem.source.obj, result))


class SYMBREAK_OT_learn_order_parameter(_Background):
    """Learn the symmetry-breaking input by gradient descent, alongside a network, with an L1
    penalty that keeps only the degrees the target needs (Esc cancels)"""

    bl_idname = "symbreak.learn_order_parameter"
    bl_label = "Learn Order Parameter"
    bl_options = {'REGISTER', 'UNDO'}

    _doing = "learning the order parameter"
    _iterations = 300  # the engine's default, which its penalty ramp is tuned for

    def _prepare(self, context: bpy.types.Context) -> tuple[bpy.types.Object, dict[str, Any]]:
        from ..engine.training import check_problem

        src = inputs.source(context)
        target, config = inputs.target(src), inputs.config(context)
        check_problem(src.start, target, config)
        return src.obj, dict(start=src.start, target=target, config=config, iterations=self._iterations,
                             seed=context.scene.symbreak.training.seed)

    def _call(self) -> tuple[Any, int, str]:
        from ..engine.training import learn_order_parameter

        return learn_order_parameter, self._iterations, "learning"

    def _running(self, obj: bpy.types.Object, job: worker.Job) -> str:
        return (f"SymBreak: learning the order parameter of {obj.name} — step {job.iteration}/{job.total}, "
                f"loss {job.loss:.4g} (Esc to cancel)")

    def _keep(self, context: bpy.types.Context, result: Any) -> None:
        assert self._obj is not None
        found = state.learned_order_parameter_from(result.coefficients)
        state.store_learned_order_parameter(self._obj, found)
        self.report({'INFO'}, f"Learned the order parameter of {self._obj.name!r}: {found.description}")


def _predict(model: Any, positions: np.ndarray, features: Any, dtype: Any, progress: Any = None,
             cancel: Any = None) -> Any:
    """``engine.predict`` as a :class:`worker.Job` calls it. It runs in one go: ``progress`` and
    ``cancel`` are ignored, and a cancelled job's result is dropped."""
    from ..engine import predict

    return predict(model, positions, features, dtype=dtype)


class SYMBREAK_OT_predict(_Background):
    """Run the stored model on the current vertices, without retraining (Esc cancels)"""

    bl_idname = "symbreak.predict"
    bl_label = "Predict"
    bl_options = {'REGISTER', 'UNDO'}

    _doing = "predicting"
    _source: Optional[inputs.Source] = None

    def _prepare(self, context: bpy.types.Context) -> tuple[bpy.types.Object, dict[str, Any]]:
        """The source and the stored model, which must take the source's current input features;
        float32 above ``FLOAT32_ABOVE`` points."""
        from ..engine import checkpoint

        src = inputs.source(context)
        if not state.has_model(src.obj):
            raise ValueError(f"{src.obj.name!r} has no trained model")
        features = inputs.features(len(src.indices), inputs.breaking(src))
        model, stored = checkpoint.from_bytes(state.model_bytes(src.obj))
        if str(stored.irreps) != str(features.irreps):
            raise ValueError(f"Input features changed since training ({stored.irreps} → {features.irreps}): "
                             "train again")
        self._source = src
        dtype = "float32" if len(src.indices) > FLOAT32_ABOVE else "float64"
        return src.obj, dict(model=model, positions=src.start, features=features, dtype=dtype)

    def _call(self) -> tuple[Any, int, str]:
        return _predict, 1, "predicting"

    def _running(self, obj: bpy.types.Object, job: worker.Job) -> str:
        assert self._source is not None
        return f"SymBreak: predicting {len(self._source.indices)} vertices of {obj.name} (Esc to cancel)"

    def _keep(self, context: bpy.types.Context, result: Any) -> None:
        src = self._source
        assert src is not None
        state.store_prediction(src.obj, _stored(src, result))
        tied = int(np.count_nonzero(result.ambiguous))
        self.report({'INFO'}, f"Predicted {len(src.indices)} vertices of {src.obj.name!r}"
                              + (f", {tied} with tied peaks" if tied else ""))


class SYMBREAK_OT_show_signals(_SceneOperator):
    """One spherical-harmonic surface per vertex: radius |f|, red positive, blue negative"""

    bl_idname = "symbreak.show_signals"
    bl_label = "Show Signals"

    def execute(self, context: bpy.types.Context) -> Result:
        d = context.scene.symbreak.display
        try:
            obj, p = inputs.stored_prediction(context)
            inputs.check_surface_size(len(p.indices), d.signal_level)
            signals_obj = surfaces.build_signals(obj, p, scale=d.signal_scale, level=d.signal_level)
        except (ValueError, ImportError) as error:
            return _fail(self, str(error))
        self.report({'INFO'}, f"{len(p.indices)} signal surfaces, {len(signals_obj.data.vertices)} vertices, "
                              f"in {signals_obj.name!r}")
        return {'FINISHED'}


class SYMBREAK_OT_animate(bpy.types.Operator):
    """Bake the motion from start to predicted positions into shape keys and keyframes"""

    bl_idname = "symbreak.animate"
    bl_label = "Animate"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if context.mode != 'OBJECT':
            cls.poll_message_set("Switch to Object Mode")
            return False
        return context.scene is not None

    def execute(self, context: bpy.types.Context) -> Result:
        try:
            obj, p = inputs.stored_prediction(context)
        except ValueError as error:
            return _fail(self, str(error))
        d = context.scene.symbreak.display
        if d.frame_end <= d.frame_start:
            return _fail(self, f"End frame ({d.frame_end}) must come after start frame ({d.frame_start})")
        target = state.target(obj) if d.show_target else None
        if target is not None and len(target) != len(p.indices):
            target = None
        done = animation.animate(obj, p, frame_start=d.frame_start, frame_end=d.frame_end, easing=d.easing,
                                 target=target, show_ambiguous=d.show_ambiguous,
                                 signals_motion=d.signals_motion, point_radius=d.point_radius)
        sc = context.scene
        sc.frame_start = min(sc.frame_start, d.frame_start)
        sc.frame_end = max(sc.frame_end, d.frame_end)
        ghosts = f", {done['ghosts']} ghosts for tied peaks" if done["ghosts"] else ""
        self.report({'INFO'}, f"Animated {obj.name!r}: {done['moving']} vertices move over frames "
                              f"{d.frame_start}–{d.frame_end}{ghosts}")
        return {'FINISHED'}


class SYMBREAK_OT_analyze_symmetry(_SceneOperator):
    """Find the start's point group, the subgroup the target keeps and the order parameter that
    makes the task learnable (Curie's principle)"""

    bl_idname = "symbreak.analyze_symmetry"
    bl_label = "Analyze Symmetry"

    def execute(self, context: bpy.types.Context) -> Result:
        try:
            problem = inputs.problem(context)
            checked = _symmetry(problem)
        except (ValueError, ImportError) as error:
            return _fail(self, str(error))
        state.store_symmetry(problem.source.obj, checked)
        if checked["warning"]:
            self.report({'WARNING'}, checked["warning"])
        elif checked["learnable"]:
            self.report({'INFO'}, checked["verdict"])
        else:
            self.report({'INFO'}, f"The target keeps {checked['kept_group']} of {checked['start_group']}: "
                                  f"learnable with {checked['inputs']}")
        return {'FINISHED'}


class SYMBREAK_OT_use_order_parameter(_SceneOperator):
    """Make the order parameter found by Analyze Symmetry the symmetry-breaking input"""

    bl_idname = "symbreak.use_order_parameter"
    bl_label = "Use Order Parameter"

    def execute(self, context: bpy.types.Context) -> Result:
        try:
            obj = inputs.active_mesh(context)
        except ValueError as error:
            return _fail(self, str(error))
        found, record = state.suggested_order_parameter(obj), state.symmetry(obj)
        if found is None or record is None:
            return _fail(self, f"{obj.name!r} has no suggested order parameter: Analyze Symmetry first")
        state.store_order_parameter(obj, found)
        props.object_settings(obj).breaking = 'ORDER_PARAMETER'
        if record["order_parameter"]["symmetry"] == record["kept_group"]:  # it breaks exactly what the target breaks
            state.store_symmetry(obj, {**record, "inputs": f"the input {found.description}", "warning": ""})
        self.report({'INFO'}, f"{obj.name!r} now breaks its symmetry with the order parameter {found.description}")
        return {'FINISHED'}


class SYMBREAK_OT_show_order_parameter(_SceneOperator):
    """Draw the order parameter as a surface at the vertices' centre: the global symmetry-breaking
    input, or else the one suggested by Analyze Symmetry"""

    bl_idname = "symbreak.show_order_parameter"
    bl_label = "Show Order Parameter"

    def execute(self, context: bpy.types.Context) -> Result:
        try:
            src = inputs.source(context)
            extra = inputs.breaking(src)
        except (ValueError, ImportError) as error:
            return _fail(self, str(error))
        found = extra if extra is not None and extra.is_global else state.suggested_order_parameter(src.obj)
        if found is None:
            return _fail(self, f"{src.obj.name!r} has no global order parameter: Analyze Symmetry first")
        surface = surfaces.build_order_parameter(src.obj, found, src.start,
                                                 level=context.scene.symbreak.display.signal_level)
        self.report({'INFO'}, f"Order parameter {found.description} drawn in {surface.name!r}")
        return {'FINISHED'}


def film_task(obj: bpy.types.Object, *, level: int = 3) -> film.FilmTask:
    """The film's data of an object with a stored prediction: prediction, target, loss history
    and symmetry verdict as stored, the signal surfaces at scale 1 (a peak's tip marks the
    displacement) and, for a global symmetry-breaking input, its surface and its name.
    ``ValueError`` when the input cannot be rebuilt."""
    from ..engine import signals

    p = state.prediction(obj)
    target = state.target(obj)
    if target is not None and len(target) != len(p.indices):
        target = None
    coefficients = signals.project(p.displacements, lmax=1) if p.signals.shape[1] == 3 else p.signals
    extra = inputs.breaking(inputs.Source(obj, p.indices, p.start))
    order = None
    if extra is not None and extra.is_global:
        name = extra.description.split("∝")[-1].strip()  # an axis pair reads "x² − y²"
        order = (surfaces.order_parameter_surface(extra, p.start, level=level, size=0.5), name)
    record = state.symmetry(obj) or {}
    verdict = record.get("warning") or (record.get("verdict", "") if record.get("learnable", True)
                                        else f"Learnable with {record.get('inputs', 'its inputs')}.")
    return film.FilmTask(source=obj, prediction=p, target=target, losses=state.loss_history(obj),
                         surfaces=signals.surfaces(coefficients, p.start, scale=1.0, level=level),
                         order_parameter=order, verdict=str(verdict).split(";")[0])


class SYMBREAK_OT_render_video(bpy.types.Operator):
    """Render an MP4 (H.264): a short film of the active trained object (title, verdict, motion,
    loss curve, legend), or the scene as it is. Only the frames the animation needs, unless the
    scene's frame range was set"""

    bl_idname = "symbreak.render_video"
    bl_label = "Render Video"
    bl_options = {'REGISTER'}

    filepath: StringProperty(name="File Path", description="Overrides the Output setting when set",
                             default="", subtype='FILE_PATH')
    contact_sheet: BoolProperty(name="Contact Sheet", description="Also write a PNG of key frames",
                                default=False)
    frame_camera: BoolProperty(name="Frame Camera", description="Fit the camera to the content",
                               default=True)
    film: BoolProperty(name="Film", description="A short film of the active trained object; off: the scene as it is",
                       default=True)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if context.scene is None or context.mode != 'OBJECT':
            cls.poll_message_set("Switch to Object Mode")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> Result:
        sc = context.scene
        if sc is None:
            return _fail(self, "No scene to render")
        settings = props.scene_settings(sc).render
        raw = self.filepath or settings.filepath
        if raw.startswith("//") and not bpy.data.filepath:
            return _fail(self, f"Output {raw!r} is relative to the .blend: save the file first "
                               "or choose an absolute path")
        path = bpy.path.abspath(raw)
        if not path or path.endswith(("/", os.sep)):
            return _fail(self, "Choose an output file (.mp4)")
        if not path.lower().endswith(".mp4"):
            path += ".mp4"
        folder = os.path.dirname(path) or "."
        if not os.path.isdir(folder):
            try:
                os.makedirs(folder, exist_ok=True)
            except OSError as error:
                return _fail(self, f"Cannot create {folder!r}: {error}")
        obj = context.active_object
        make_film = self.film and state.has_prediction(obj)
        if not make_film and not camera.content(sc):
            return _fail(self, "Nothing to render: add the seed demo or a mesh first")
        if sc.frame_end < sc.frame_start:
            return _fail(self, "The scene's frame range is empty")
        user_range = (sc.frame_start, sc.frame_end) != DEFAULT_RANGE or settings.duration > 0
        video.configure(sc, settings, path)
        camera.lights_and_world(sc)
        acts: list[film.Act] = []
        if make_film:
            assert obj is not None
            try:
                task = film_task(obj, level=props.scene_settings(sc).display.signal_level)
            except (ValueError, ImportError) as error:
                return _fail(self, str(error))
            acts = film.build(sc, film.script("own"), [task], fps=int(settings.fps), keep_range=user_range).acts
        else:
            keyed = keys.keyed_range()
            if not user_range and keyed is not None:
                sc.frame_start, sc.frame_end = keyed
            if self.frame_camera or sc.camera is None:
                camera.camera(sc)
        # key frames: each act's end and the middle of each motion in the range, else six frames of it
        frames = sorted({f for a in acts for f in [a.last] + ([sum(a.motion) // 2] if a.motion else [])
                         if sc.frame_start <= f <= sc.frame_end})
        if len(frames) < 2:
            frames = np.linspace(sc.frame_start, sc.frame_end, 6).round().astype(int).tolist()
        sheet = os.path.splitext(path)[0] + "_contact.png"
        count = sc.frame_end - sc.frame_start + 1
        if bpy.app.background or context.window is None:
            with tempfile.TemporaryDirectory() as stills_folder:
                stills = video.render_film(sc, path, stills_folder)
                if self.contact_sheet:
                    video.tile([video.still_at(stills, f) for f in frames], sheet)
            self.report({'INFO'}, f"Rendered {count} frames ({len(stills)} distinct) to {path}")
        else:
            if self.contact_sheet:
                video.contact_sheet(sc, frames, sheet)
            bpy.ops.render.render('INVOKE_DEFAULT', animation=True)
            self.report({'INFO'}, f"Rendering {count} frames to {path}")
        return {'FINISHED'}


CLASSES = [
    SYMBREAK_OT_add_seed_demo,
    SYMBREAK_OT_analyze_symmetry,
    SYMBREAK_OT_use_order_parameter,
    SYMBREAK_OT_show_order_parameter,
    SYMBREAK_OT_learn_order_parameter,
    SYMBREAK_OT_train,
    SYMBREAK_OT_predict,
    SYMBREAK_OT_show_signals,
    SYMBREAK_OT_animate,
    SYMBREAK_OT_render_video,
]
