"""Programs translated from google/tangent's tests/functions.py (its TensorFlow-eager and
tangent-specific stack/insert_grad_of functions left out). Scalars are a, b, c; vectors x."""

import numpy as np

from tests.peer_corpus.harness import registry

CASES, case = registry("tangent_functions")

V = np.array([0.3, -1.2, 0.7, 2.0])
M = np.array([[1.0, 0.5, -0.3], [0.2, 2.0, 0.1], [-0.4, 0.3, 1.5]])


# ---- straight-line code ----

@case(1.5)
def id_(a):
    return a


@case(1.5)
def unary_sub(a):
    return -a


@case(V)
def sum_(x):
    return np.sum(x)


@case([0.5, 1.5, -2.0])
def cast_sum_(x):
    return np.sum(np.array(x))


@case(V)
def overwrite_call(x):
    x = np.sum(x)
    x = x * x
    return x


@case(0.4)
def tanh(a):
    return np.tanh(a)


@case(1.5)
def increment(a):
    return a + 1


@case(1.5, -0.7, 2.0)
def saxpy(a, b, c):
    return a * b + c


def mul(a, b):
    return a * b


def add(a, b):
    return a + b


@case(1.5, -0.7, 2.0)
def saxpy_call(a, b, c):
    return add(mul(a, b), c)


@case(1.5, -0.7, 2.0)
def saxpy_overwrite(a, b, c):
    t = a * b
    t = t + c
    return t


@case(1.5)
def gradname_aliasing(a):
    da = a * a
    return da


@case(1.5)
@case(-1.5)
def overwrite_if(a):
    if a > 0:
        a = a * 3.0
    else:
        a = a * 2.0
    return a


@case(1.3)
def binop_mul2(a):
    return 3.0 * a


@case(1.3)
def binop_mul3(a):
    return a * a


@case(1.3)
def binop_div2(a):
    return 3.0 / a


@case(1.3)
def binop_div3(a):
    return a / a


@case(1.3)
def binop_sub3(a):
    return a - a


@case(1.3)
def binop_add3(a):
    return a + a


# ---- branches ----

@case(2.0)
@case(-2.0)
@case(12.0)
def nested_if(a):
    if a > 0:
        if a < 10:
            a = a * a
    else:
        a = 3.0 * a
    return a


@case(0.8)
@case(-0.3)
@case(-3.0)
def multiarg_if(a):
    if a * a / 3.0 > 0:
        b = 3.0
    else:
        b = 4.0
    a = a * b
    if a < b - a * b:
        a = a * a
    elif a > b + 3.0 * a:
        if a / 2.0 < 0:
            a = a / b
        else:
            a = a * b
    else:
        a = -a
    return a


@case(1.3)
def fn_multiply(a):
    return np.multiply(a, 3.0)


@case(1.3)
def fn_multiple_return(a):
    return 2 * a, a


@case(1.3)
def anf_list(a):
    b = [1, a * a, 2]
    return np.sum(b)


@case(V)
def deep_anf_list(x):
    b = [1, x[0] * x[1] * x[2], 3]
    return np.sum(b)


@case(V)
def subscript1(x):
    a = x[0]
    b = x[1]
    return a * b


@case(V)
def subscript2(x):
    a = x[0]
    b = x[1]
    x[0] = a * b
    return np.sum(x)


@case(V)
def subscript3(x):
    y = x ** 2.0
    x[0] = y[1] * y[2]
    return np.sum(x * y)


@case(1.3)
def list_and_subscript(a):
    x = [1.0, a, 3.0]
    return x[0] * x[1]


@case(V)
def implicit_indexing(x):
    res = 0.0
    for a in x:
        res += a
    return res


@case(0.6)
@case(-0.6)
def serial_if(a):
    if a > 0:
        a = a * a
    a = a + a
    if a < 0:
        a = 3.0 * a
    return a


@case(1.5, 0.5)
@case(0.5, 1.5)
def multivar_if(a, b):
    if a > b:
        a = a * a
    else:
        a = a * b
    return a


# ---- loops ----

@case(1.1, 2)
def serial_for(a, n):
    for i in range(n):
        a = a * a
    a = 2.0 * a
    for i in range(n + 1):
        a = a * 3.0
    return a


@case(0.9, 2)
@case(-0.9, 2)
def serial_ifthenfor(a, n):
    if a > 0:
        a = a * a
    a = 2.0 * a
    for i in range(n):
        a = a * a
    return a


@case(0.9, 2)
@case(-0.9, 1)
def serial_forthenif(a, n):
    for i in range(n):
        a = a * a
    a = 2.0 * a
    if a > 0:
        a = a * a
    return a


@case(2.0)
@case(5.0)
@case(-1.0)
def devilish_nested_if(a):
    if a > 0:
        a = a * 3.0
        if a < 10:
            a = a * a
        else:
            a = a * 2.0
    return a


@case(1.2)
@case(-1.2)
def overwrite_ifelse(a):
    if a > 0:
        a = a * 3.0
    elif 0 > a:
        a = a * 2.0
    else:
        a = 1.0 * a
    return a


@case(1.2)
def overwrite_arg(a):
    a = a * 3.0
    return a


@case(1.2)
def third_pow(a):
    return a * a * a


@case(1.2)
def direct_third_pow(a):
    return a ** 3


@case(1.2)
def iter_third_pow1(a):
    out = 1
    for i in range(3):
        out = out * a
    return out


@case(1.1)
def iterpower_static(a):
    for i in range(3):
        a = a * a
    return a


@case(1.1, 3)
def iterpower(a, n):
    for i in range(n):
        a = a * a
    return a


@case(1.5)
@case(3.0)
def cond_iterpower1(a):
    for i in range(3):
        if a < 20:
            a = a * a
    return a


@case(1.1)
def cond_iterpower2(a):
    if a < 20:
        for i in range(3):
            a = a * a
    return a


@case(1.01)
def superfor_iterpower(a):
    for i in range(2):
        for j in range(3):
            a = a * a
    return a


@case(1.05)
def super_iterpower(a):
    for i in range(3):
        a = a * a * a
    return a


# ---- NumPy ----

@case(V)
def numpy_sum(x):
    return np.sum(x)


@case(0.7)
def numpy_exp(a):
    return np.exp(a)


@case(0.3)
def numpy_exp2(a):
    return np.exp(np.exp(a))


@case(2.0)
@case(-2.0)
def numpy_sqrt(a):
    if a >= 0:
        r = np.sqrt(a)
    else:
        r = np.sqrt(-a)
    return r


@case(0.7)
def numpy_cos(a):
    return np.cos(a)


@case(0.7)
def numpy_sin(a):
    return np.sin(a)


@case(0.7)
def numpy_tan(a):
    return np.tan(a)


@case(0.7)
def numpy_tanh(a):
    return np.tanh(a)


@case(0.3)
def numpy_arccos(a):
    return np.arccos(a)


@case(0.3)
def numpy_arcsin(a):
    return np.arcsin(a)


@case(0.3)
def numpy_arctan(a):
    return np.arctan(a)


@case(1.5)
@case(V)
def numpy_atleast_1d(x):
    return np.sum(np.atleast_1d(x))


@case(1.5)
@case(V)
def numpy_atleast_2d(x):
    return np.sum(np.atleast_2d(x))


@case(np.array([[0.5, -1.0, 0.3]]), 1.0, np.array([[0.2], [-0.4], [0.9]]), 0.1, wrt=(2, 3))
def logistic_regression(input, label, W, b):
    h1 = np.dot(input, W) + b
    prediction = 0.5 * (np.tanh(h1) + 1)
    label_probabilities = prediction * label + (1 - prediction) * (1 - label)
    loss = -np.sum(np.log(label_probabilities))
    return loss


@case(M)
def det(sqm):
    return np.linalg.det(sqm)


# ---- calls ----

def _inner_fn(a, b):
    return a * b


@case(1.5, -0.5)
def mul_with_call(a, b):
    return _inner_fn(a, b)


@case(1.5, -0.5)
@case(-0.5, 1.5)
def if_mul_with_call(a, b):
    if a > b:
        o = _inner_fn(a, b)
    else:
        o = _inner_fn(b, a)
    return o


@case(1.1, 3)
def iterpower_with_call(a, n):
    for i in range(n):
        a = _inner_fn(a, a)
    return a


@case(1.5, -0.5)
def nested_call(a, b):
    return mul_with_call(a, b)


@case(1.1, 3)
def iterpower_with_nested_def(a, n):
    def _fn(a, n):
        return a * n
    for i in range(n):
        a = _fn(a, a)
    return a


# ---- structures ----

@case((1.5, -0.5, 2.0))
def unpacking_args_saxpy(abc_packed_in_tuple):
    a, b, c = abc_packed_in_tuple
    return a * b + c


@case({"a": 1.5, "b": -0.5, "c": 2.0})
def dict_saxpy(val):
    return val["a"] * val["b"] + val["c"]


@case((1.5, -0.5, 2.0))
def dict_wrapper(abc_packed_in_tuple):
    a, b, c = abc_packed_in_tuple
    return dict_saxpy(dict(a=a, b=b, c=c))


@case(1.5, -0.5, 2.0, 1)
def passthru_pack(a, b, c, i):
    x = a, b, c
    return x[i]


@case((1.5, -0.5, 2.0))
def passthru_unpack(abc_packed_in_tuple):
    a, b, c = abc_packed_in_tuple
    return a


# ---- misc ----

@case(1.5, 0.8)
def cart2polar(a, b):
    r = np.sqrt(a**2.0 + b**2.0)
    theta = np.arctan2(b, a)
    return r, theta


@case(V)
def listcomp(a):
    return np.sum([i * 3 for i in a])


@case(3.0)
def while_big(a):
    while np.abs(a) > 0.1:
        a = a * 0.5
    return a


@case(V)
def active_subscript(x):
    y = np.zeros_like(x)
    for i in range(len(x)):
        y[i] = x[i]
    return np.sum(y)


@case(V)
def init_array_grad_maybe_active(x):
    h = np.zeros((len(x), 3))
    for t in range(len(h)):
        h[t] = x[t]
    return np.sum(h)


@case(V)
def slicing(x):
    return np.sum(x[1:])


@case(np.array([[0.5, -0.2], [0.1, 0.3], [-0.6, 0.9]]), np.array([[0.4, -0.1, 0.2], [0.3, 0.8, -0.5]]))
def rnn(inputs, W):
    h = np.zeros((4, 3))
    for t in range(3):
        h[t + 1] = np.dot(inputs[t], W) + h[t]
    return np.sum(h[1:])


@case(1.1)
def augassign(a):
    x = a * a
    x *= x
    return x


@case(np.array([0.3, -0.5]), np.array([0.1, 0.2, -0.3]), M, np.array([[0.2, -0.1, 0.4], [0.5, 0.3, -0.2]]),
      np.array([0.1, 0.0, -0.1]))
def bilinear(x, h, U, W, b):
    y = np.dot(x, W)
    y = y + np.dot(h, U)
    y = y + b
    y = np.tanh(y)
    return np.sum(y)


@case(1.3, 2.5)
@case(-1.3, 2.5)
def gradgrad_pow(a, b):
    if a >= 0:
        a = a ** b
    else:
        a = (-a) ** b
    return a


@case(1.1)
def gradgrad_pow_twice(a):
    a = a * a
    y = a * a
    return y


@case(1.05)
def gradgrad_chain_of_mults(a):
    b = a
    b = a * a
    c = b * b
    d = c * c
    return d


@case(1.05)
def gradgrad_chain_of_multcalls(a):
    b = mul(a, a)
    c = mul(b, b)
    d = mul(c, c)
    return d


@case({"i": {"j": 1.5, "k": -0.5}})
def nested_dict(p):
    return p["i"]["j"] * p["i"]["k"]


@case(np.arange(12.0).reshape(4, 3) / 7)
def extended_slice(x):
    return np.sum(x[::2, np.newaxis])
