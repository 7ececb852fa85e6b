"""SymBreak's engine: an E(3)-equivariant point network (torch + e3nn) over numpy arrays.

It never imports Blender. The add-on and the command line (``python -m engine``) go through
one door, :mod:`engine.api`, which takes and returns plain data; importing it (or this
package) imports no torch.
"""
