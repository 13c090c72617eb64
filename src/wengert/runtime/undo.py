"""Snapshots of the places a logged mutation changes, and putting them back.

`mutation.Pass` logs every write the forward pass makes (``("setitem", obj, key, old, new)``,
``("setattr", ...)``, ``("method", obj, name, before, after)``, ``("inplace", ...)``); the
backward pass undoes each entry as it passes it (`restore`) and `Pass.finish` puts back
what the forward pass left (`final_of`, `put_final`). Arrays are copied, never aliased.
"""

from __future__ import annotations

from wengert.errors import UnsupportedError

MISSING = object()


class UnsupportedMutation(Exception):
    pass


def array_copy(a):
    """A copy of an array of any library (NumPy and CuPy ``copy``, torch ``clone``)."""
    if hasattr(a, "clone") and not hasattr(a, "copy"):
        return a.clone()
    if hasattr(a, "copy"):
        return a.copy()
    import array_api_compat

    return array_api_compat.array_namespace(a).asarray(a, copy=True)


def copy_value(v):
    return array_copy(v) if hasattr(v, "shape") and hasattr(v, "dtype") else v


def snapshot(obj, key):
    if isinstance(obj, dict):
        return obj.get(key, MISSING)
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        if getattr(obj, "base", None) is not None or (hasattr(obj, "_base") and obj._base is not None):
            raise UnsupportedError(
                "in-place update of an array that is a view of another array; wengert cannot see "
                "the other names of that memory (copy it first: a = a.copy())")
        old = obj[key]
        return array_copy(old) if hasattr(old, "shape") else old
    return obj[key]


def copy_container(obj):
    if isinstance(obj, list):
        return list(obj)
    if isinstance(obj, dict):
        return dict(obj)
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        return array_copy(obj)
    if hasattr(obj, "copy"):
        return obj.copy()
    import copy

    return copy.copy(obj)


def restore(entry) -> None:
    kind, obj, key, old, new = entry
    if kind == "setitem":
        if old is MISSING:
            del obj[key]
        else:
            obj[key] = old
    elif kind == "setattr":
        if old is MISSING:
            delattr(obj, key)
        else:
            setattr(obj, key, old)
    else:
        _set_contents(obj, old)


def _whole(obj) -> bool:
    return isinstance(obj, (list, dict)) or (hasattr(obj, "shape") and hasattr(obj, "dtype"))


def place_of(entry):
    """What an entry changed: an attribute, one item of an object with its own
    ``__setitem__``, or the whole contents of a list, dict or array."""
    kind, obj, key = entry[0], entry[1], entry[2]
    if kind == "setattr":
        return (id(obj), "attr", key)
    if kind == "setitem" and not _whole(obj):
        return (id(obj), "item", key)
    return id(obj)


def final_of(entry):
    """What is in ``entry``'s place now (before the backward pass first undoes it)."""
    kind, obj, key = entry[0], entry[1], entry[2]
    if kind == "setattr":
        return getattr(obj, key, MISSING)
    if kind == "setitem" and not _whole(obj):
        return obj[key]
    return copy_container(obj)


def put_final(entry, final) -> None:
    kind, obj, key = entry[0], entry[1], entry[2]
    if kind == "setattr":
        if final is MISSING:
            if hasattr(obj, key):
                delattr(obj, key)
        else:
            setattr(obj, key, final)
    elif kind == "setitem" and not _whole(obj):
        obj[key] = final
    else:
        _set_contents(obj, final)


def _set_contents(obj, contents) -> None:
    if isinstance(obj, list):
        obj[:] = contents
    elif isinstance(obj, dict):
        obj.clear()
        obj.update(contents)
    elif hasattr(obj, "shape"):
        obj[...] = contents
    else:
        obj.__dict__.clear()
        obj.__dict__.update(contents.__dict__)


def permutation(before: list, after: list) -> list:
    """For each position of ``after``, the position in ``before`` it came from."""
    used = [False] * len(before)
    perm = []
    for v in after:
        for i, u in enumerate(before):
            if not used[i] and u is v:
                used[i] = True
                perm.append(i)
                break
        else:
            raise UnsupportedMutation("reordering with copies")
    return perm
