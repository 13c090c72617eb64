"""Generated code: its shape, its names, and where it is registered."""

import inspect
import linecache

import wengert


def pow(x, n):
    r = 1
    while n > 0:
        n -= 1
        r *= x
    return r


POW_GRAD = """\
def pow_grad(_pass, x, n, r_bar=1.0):
    r_stack = []
    r = 1
    while n > 0:
        r_stack.append(r)
        n = n - 1  # line 12
        r = r * x  # line 13
    x_bar = 0.0
    for r_1 in reversed(r_stack):
        x_bar += r_bar * r_1
        r_bar = r_bar * x
    return r, None, (x_bar, None)
"""


def test_pow_adjoint_reads_like_the_hand_written_one():
    assert wengert.show_adjoint(pow, 2.0, 3) == POW_GRAD


def test_pullback_form_nests_the_back_function():
    src = wengert.show_adjoint(pow, 2.0, 3, fused=False)
    assert "def pow_pullback(_pass, x, n):" in src
    assert "    def pow_back(r_bar):" in src
    assert src.rstrip().endswith("return r, pow_back")


def test_generated_source_is_in_linecache():
    from wengert.dispatch.cache import compiled

    c = compiled(pow, ("float", "int"))
    fname = c.grad.__code__.co_filename
    assert fname.startswith("<wengert pow_grad from ") and __file__ in fname
    assert "r_stack.append(r)" in "".join(linecache.getlines(fname))
    assert "r_stack.append(r)" in inspect.getsource(c.grad)


def test_names_come_from_user_variables():
    def f(speed, angle):
        vx = speed * angle
        height = vx * vx
        return height
    src = wengert.show_adjoint(f, 1.0, 2.0)
    for name in ("speed_bar", "angle_bar", "vx_bar", "vx = speed * angle"):
        assert name in src


def test_specialised_per_argument_types():
    import numpy as np

    def f(x):
        return x * x
    floats = wengert.show_adjoint(f, 2.0)
    arrays = wengert.show_adjoint(f, np.ones(3))
    assert "unbroadcast" not in floats and "is not None" not in floats
    assert "unbroadcast" in arrays


def test_first_call_cost_does_not_grow_with_trip_count():
    import time

    def loop(x, n):
        s = 0.0
        for i in range(n):
            s = s + x * i
        return s

    def first_call(n):
        wengert.clear_cache()
        t = time.perf_counter()
        wengert.grad(loop)(1.0, n)
        return time.perf_counter() - t
    small = min(first_call(10) for _ in range(3))
    large = min(first_call(10_000) for _ in range(3))
    # the transform is the same; only running the loop differs (a few ms at most)
    assert large - small < 0.05


# ---- cleaner generated code (issue 9) ----

import math  # noqa: E402
import re  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from wengert.backend.emit import same_code  # noqa: E402
from wengert.testing import check_grads  # noqa: E402


def _adjoint_part(src: str, name: str) -> str:
    """The lines of a fused gradient after its forward pass: from the first cotangent
    assignment (``<x>_bar =``) that is not a parameter default."""
    lines = src.splitlines()[1:]
    start = next(i for i, line in enumerate(lines) if re.match(r"\s+\w+_bar\b", line))
    return "\n".join(lines[start:])


def same_both_ways(x, c):
    if c > 0:
        y = x * 2.0
    else:
        y = x * 2.0
    return y * x


def test_branches_with_one_adjoint_are_written_once_without_their_condition():
    src = wengert.show_adjoint(same_both_ways, 1.5, 1.0)
    assert src.count("if ") == 1  # the forward pass's own branch; none in the adjoint
    assert "if c > 0:" in src  # the condition is written inline: nothing names or saves it
    for x, c in ((1.5, 1.0), (-0.7, -1.0)):
        check_grads(same_both_ways, x, c, modes=("source",))


def same_in_loop(x, n):
    s = 0.0
    for i in range(n):
        if i % 2 == 0:
            s = s + x * x
        else:
            s = s + x * x
        s = s * 0.9
    return s


def test_branches_in_a_loop_with_one_adjoint_push_no_condition():
    src = wengert.show_adjoint(same_in_loop, 1.3, 5)
    assert "_stack" not in src and "saved" not in src  # nothing pushed: the loop counts its trips
    assert "if" not in _adjoint_part(src, "same_in_loop")
    check_grads(same_in_loop, 1.3, 5, modes=("source",))
    check_grads(same_in_loop, -0.4, 4, modes=("source",))


def nested_same(x, n):
    s = 0.0
    for i in range(n):
        if i > 2:
            if i > 4:
                s = s + x * x
            else:
                s = s + x * x
        else:
            s = s + 3.0 * x
    return s


def different_sources(x, y, c):
    if c > 0:
        z = x * 2.0
    else:
        z = y * 2.0
    return z * z


def different_in_loop(x, y, n):
    s = 0.0
    for i in range(n):
        t = x * y
        if i % 3 == 0:
            s = s + t * x
        else:
            s = s + t * y
    return s


def test_branches_whose_adjoints_differ_keep_their_condition():
    # the inner branch's two adjoints are one; the outer's differ: its condition is pushed
    src = wengert.show_adjoint(nested_same, 0.5, 7)
    adjoint = _adjoint_part(src, "nested_same")
    assert adjoint.count("if ") == 1 and "reversed(" in adjoint
    check_grads(nested_same, 0.5, 7, modes=("source",))
    # branches that read different values: same text up to those names, never merged
    src = wengert.show_adjoint(different_sources, 1.5, -2.0, 1.0)
    assert "if " in _adjoint_part(src, "different_sources")
    for c in (1.0, -1.0):
        check_grads(different_sources, 1.5, -2.0, c, modes=("source",))
    src = wengert.show_adjoint(different_in_loop, 0.8, 1.7, 7)
    assert "if " in _adjoint_part(src, "different_in_loop")
    check_grads(different_in_loop, 0.8, 1.7, 7, modes=("source",))


def test_same_code_renames_only_a_blocks_own_temporaries():
    a = ["    t_bar = g * 2.0", "    x_bar += t_bar * x"]
    b = ["    u_bar = g * 2.0", "    x_bar += u_bar * x"]
    assert same_code(a, b, set())
    assert not same_code(a, b, {"t_bar"})  # read after the branch: not a temporary
    # a value read (not assigned first) is never renamed
    assert not same_code(["    x_bar = g * a"], ["    x_bar = g * b"], set())
    # one block's name is another's read: not the same
    assert not same_code(["    t = g", "    x_bar = t"], ["    x_bar = t", "    t = g"], set())
    # x_bar is assigned in one and added to in the other
    assert not same_code(["    x_bar = g"], ["    x_bar += g"], set())


def dead_branch(x, c):
    a = x * x
    if c > 0:
        b = a
    else:
        b = a
    return b * x


def test_a_branch_with_nothing_to_do_is_dropped():
    src = wengert.show_adjoint(dead_branch, 1.2, 1.0)
    assert not re.search(r"^\s*(if |pass$)", src, re.M)
    check_grads(dead_branch, 1.2, 1.0, modes=("source",))
    check_grads(dead_branch, 0.3, -1.0, modes=("source",))


def test_an_empty_branch_on_an_array_keeps_its_test():
    # `if x > 0` on an array raises in the user's code: the generated code must as well
    with pytest.raises(ValueError):
        wengert.grad(lambda x: np.sum(dead_branch(x, x)))(np.ones(3))


def np_floats(x, y):
    return np.multiply(x, y) + np.maximum(x, y) + np.power(x, 2.0) + np.add(x, y) + np.arctan2(x, y)


def test_no_unbroadcast_on_numbers():
    src = wengert.show_adjoint(np_floats, 1.5, 2.0)
    assert "unbroadcast" not in src
    check_grads(np_floats, 1.5, 2.0, modes=("source",))
    check_grads(np_floats, -0.5, 0.25, modes=("source",))
    assert isinstance(wengert.grad(np_floats)(1.5, 2.0), float)


def float_against_array(x, a):
    return np.sum(np.multiply(x, a) + np.maximum(x, a))


def complex_after_numbers(x, y):
    w = np.multiply(x, y)
    return abs(w * (1 + 2j) + x)


def test_unbroadcast_stays_where_an_operand_may_be_an_array_or_complex():
    a = np.array([0.5, 2.0, -1.0])
    src = wengert.show_adjoint(float_against_array, 1.0, a)
    assert "unbroadcast(" in src  # x is a float, a an array: x's cotangent is summed
    check_grads(float_against_array, 1.0, a, modes=("source",))
    # a real number's cotangent stays real when the result goes on into complex numbers
    check_grads(complex_after_numbers, 0.7, -1.3, modes=("source",))
    assert isinstance(wengert.grad(complex_after_numbers)(0.7, -1.3), float)


def local_numpy(x):
    import numpy as np

    return np.sum(np.fliplr(x) * np.sin(x) + np.nan_to_num(x * x))


def local_math(x):
    import math

    return math.sin(x) * math.cos(x) + math.exp(-x)


def local_import_in_branch(x, c):
    if c > 0:
        import math
        y = math.sin(x)
    else:
        y = x * x
    return y


def test_a_module_imported_inside_the_function_keeps_its_name():
    x = np.linspace(0.1, 1.2, 6).reshape(2, 3)
    src = wengert.show_adjoint(local_numpy, x)
    assert "np_1" not in src and "np.fliplr(" in _adjoint_part(src, "local_numpy")
    check_grads(local_numpy, x, modes=("source",))
    src = wengert.show_adjoint(local_math, 0.4)
    assert "math_1" not in src and "math.cos(x)" in src and "math.sin(x)" in src
    check_grads(local_math, 0.4, modes=("source",))
    # imported in a branch that may not run: the adjoint keeps its own name for the module
    for c in (1.0, -1.0):
        check_grads(local_import_in_branch, 0.9, c, modes=("source",))


def _jvp_fd(f, args, tangents, h=1e-6):
    plus = f(*(a + h * t for a, t in zip(args, tangents)))
    minus = f(*(a - h * t for a, t in zip(args, tangents)))
    return (plus - minus) / (2 * h)


def array_sums(x, y):
    z = x + y
    w = x * y + z
    return np.sum(w + 2.0)


def test_array_tangents_of_plus_add_without_the_sequence_case():
    x, y = np.array([0.3, -1.2, 2.0]), np.array([1.5, 0.5, -0.7])
    tx, ty = np.array([1.0, 0.5, -2.0]), np.array([0.25, -1.0, 3.0])
    src = wengert.show_tangent(array_sums, x, y)
    assert "_pad_tangent" not in src and "isinstance" not in src and "_SEQS" not in src
    _, t = wengert.jvp(array_sums, (x, y), (tx, ty))
    assert np.allclose(t, _jvp_fd(array_sums, (x, y), (tx, ty)), rtol=1e-6)

    def lists(x):  # + on lists still concatenates tangents
        v = [x, 2.0 * x] + [x * x]
        return v[0] + v[1] * v[2]
    _, t = wengert.jvp(lists, (1.5,), (1.0,))
    assert math.isclose(t, _jvp_fd(lists, (1.5,), (1.0,)), rel_tol=1e-6)


def test_readme_pow_adjoint_unchanged():
    assert wengert.show_adjoint(pow, 2.0, 3) == POW_GRAD
    check_grads(pow, 1.7, 4, modes=("source",))
