# SPDX-License-Identifier: GPL-3.0-or-later
"""What every operator shares: the failure report, an operator that needs only a scene, and one
whose engine work runs as a background job (:mod:`..jobs`)."""

from __future__ import annotations

from typing import Any, Literal, Optional

import bpy

from .. import jobs

# What execute, invoke and modal may return (bpy.types.Operator's own return type).
Result = set[Literal['RUNNING_MODAL', 'CANCELLED', 'FINISHED', 'PASS_THROUGH', 'INTERFACE']]


def fail(op: bpy.types.Operator, message: str) -> Result:
    op.report({'ERROR'}, message)
    return {'CANCELLED'}


class SceneOperator(bpy.types.Operator):
    """An undoable operator that needs only a scene; it checks the rest in ``execute``."""

    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return context.scene is not None


class BackgroundOperator(bpy.types.Operator):
    """An operator whose engine work runs in a :class:`jobs.Job`, one job at a time.

    ``prepare`` reads and checks the scene on the main thread (``ValueError`` for bad input) and
    returns the job's work, a function of plain data only, and its number of steps, and may set
    ``doubt``, a warning about the input reported last once the result is kept; ``keep`` stores
    the result on the main thread (checking it first: it raises ``ValueError`` before it changes
    anything). ``invoke`` polls the job from a timer and Esc cancels it; ``execute``
    (background mode, scripts) starts the same job and waits for it.
    """

    bl_options = {'REGISTER', 'UNDO'}
    what = ""   # {'analyzing', 'training', 'learning', 'predicting'}: the job's name and the panel that shows it
    doing = ""  # in messages: "training", "learning the order parameter", ...
    doubt = ""  # set by prepare: a warning about the input (e.g. a target that looks misplaced)
    _timer: Any = None
    _job: Optional[jobs.Job] = None
    _obj: Optional[bpy.types.Object] = None

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        job = jobs.current
        if job is not None and not job.done:
            cls.poll_message_set(f"SymBreak is already {job.what}")
            return False
        return context.scene is not None

    def prepare(self, context: bpy.types.Context) -> tuple[bpy.types.Object, jobs.Work, int]:
        """The object worked on, the job's work and its number of steps; ``ValueError`` for bad input."""
        raise NotImplementedError

    def running(self, job: jobs.Job) -> str:
        """The status bar's text while ``job`` runs."""
        raise NotImplementedError

    def keep(self, context: bpy.types.Context, result: Any) -> None:
        """Store ``result`` on the object and report what was done."""
        raise NotImplementedError

    def _begin(self, context: bpy.types.Context) -> Optional[jobs.Job]:
        self.doubt = ""
        try:
            self._obj, work, total = self.prepare(context)
        except ValueError as error:
            self.report({'ERROR'}, str(error))
            return None
        self._job = jobs.start(jobs.Job(self.what, work, total))
        return self._job

    def execute(self, context: bpy.types.Context) -> Result:
        """Synchronous: background mode and scripts."""
        job = self._begin(context)
        if job is None:
            return {'CANCELLED'}
        job.wait()
        return self._end(context, job)

    def invoke(self, context: bpy.types.Context, event: Any) -> Result:
        wm = context.window_manager
        if bpy.app.background or context.window is None or wm is None:
            return self.execute(context)
        job = self._begin(context)
        if job is None:
            return {'CANCELLED'}
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.progress_begin(0, max(1, job.total))
        wm.modal_handler_add(self)
        return {'RUNNING_MODAL'}

    def modal(self, context: bpy.types.Context, event: Any) -> Result:
        job = self._job
        assert job is not None
        if event.type == 'ESC' and event.value == 'PRESS':
            job.cancel()
            job.wait(0.5)
        if not job.done and not job.cancelled:
            if event.type == 'TIMER' and context.window_manager is not None:
                context.window_manager.progress_update(job.iteration)
                self._status(context, self.running(job))
            return {'PASS_THROUGH'}
        self._stop(context)
        return self._end(context, job)

    def cancel(self, context: bpy.types.Context) -> None:
        if self._job is not None:
            self._job.cancel()
        self._stop(context)

    def _end(self, context: bpy.types.Context, job: jobs.Job) -> Result:
        if job.cancelled:  # the job stops at its next step; a result that came first is dropped too
            self.report({'WARNING'}, f"{self.doing.capitalize()} cancelled; nothing was changed")
            return {'CANCELLED'}
        if job.error is not None:
            return fail(self, job.message)
        try:
            assert self._obj is not None
            self._obj.name  # the object may have been deleted meanwhile
        except ReferenceError:
            return fail(self, f"The object was deleted while {self.doing}")
        try:
            self.keep(context, job.result)
        except ValueError as error:
            return fail(self, str(error))
        if self.doubt:  # last, so that the status bar shows it
            self.report({'WARNING'}, self.doubt)
        return {'FINISHED'}

    def _status(self, context: bpy.types.Context, text: Optional[str]) -> None:
        if context.workspace is not None:
            context.workspace.status_text_set(text)
        for area in context.screen.areas if context.screen else []:
            if area.type == 'VIEW_3D':
                area.tag_redraw()

    def _stop(self, context: bpy.types.Context) -> None:
        wm = context.window_manager
        if wm is None:
            return
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        wm.progress_end()
        self._status(context, None)
