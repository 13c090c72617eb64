"""Programs translated from HIPS/autograd's tests/ (test_core, test_scalar_ops, test_numpy,
test_linalg, test_list, test_dict, test_tuple, test_logic, test_binary_ops, test_scipy).
autograd's check_grads takes non-scalar outputs too: the harness checks them through a
vector-Jacobian product."""

import operator

import numpy as np
import scipy.special
import scipy.signal
import scipy.stats

from tests.peer_corpus.harness import registry

CASES, case = registry("autograd_tests")

R = np.random.default_rng(1)


def r(*shape):
    return R.standard_normal(shape)


def spd(n):
    a = r(n, n)
    return a @ a.T + n * np.eye(n)


A34, A345, A56, V5, V6 = r(3, 4), r(3, 4, 5), r(5, 6), r(5), r(6)


# ---- test_core: binary operators on floats ----

@case(0.7, 1.8, name="core_add")
def core_add(x, y):
    return x + y


@case(0.7, 1.8)
def core_sub(x, y):
    return x - y


@case(0.7, 1.8)
def core_div(x, y):
    return x / y


@case(0.7, 1.8)
def core_mul(x, y):
    return x * y


@case(0.7, 1.8)
def core_pow(x, y):
    return x ** y


@case(0.7, 1.8)
def core_mod(x, y):
    return x % y


@case(0.7, 1.8)
def core_compare(x, y):
    return float(x == y) + float(x != y) + float(x <= y) + float(x >= y) + float(x < y) + float(x > y)


# ---- test_scalar_ops ----

@case(1.1)
@case(-1.1)
def abs_(x):
    return 3.0 * np.abs(x)


@case(1.1)
def sign(x):
    return 3.0 * np.sign(x)


@case(0.4)
def sin(x):
    return 3.0 * np.sin(x)


@case(0.4)
def exp(x):
    return 3.0 * np.exp(x)


@case(1.4)
def log(x):
    return 3.0 * np.log(x)


@case(1.4)
def log1p(x):
    return 3.0 * np.log1p(x)


@case(0.4)
def expm1(x):
    return 3.0 * np.expm1(x)


@case(0.4)
def neg(x):
    return 3.0 * -x


@case(0.4)
def cos(x):
    return 3.0 * np.cos(x)


@case(0.4)
def tan(x):
    return 3.0 * np.tan(x)


@case(0.4)
def tanh(x):
    return 3.0 * np.tanh(x)


@case(0.1)
def arccos(x):
    return 3.0 * np.arccos(x)


@case(0.2)
def arctan(x):
    return 3.0 * np.arctan(x)


@case(1.7)
def arccosh(x):
    return 3.0 * np.arccosh(x)


@case(0.6)
def arcsinh(x):
    return 3.0 * np.arcsinh(x)


@case(2.3)
def sqrt(x):
    return 3.0 * np.sqrt(x)


@case(1.3, 2.2)
def power(x, y):
    return np.power(x, y)


@case(0.8)
def power_arg1_zero(y):
    return np.power(0.0, y)


@case(2.7, 1.2)
def mod(x, y):
    return np.mod(x, y)


@case(2.7, 1.2)
def fmod(x, y):
    return np.fmod(x, y)


@case(0.3)
def degrees(x):
    return np.degrees(x)


@case(1.3, 0.4)
def hypot(x, y):
    return np.hypot(x, y)


@case(1.3, -0.4)
def arctan2(x, y):
    return np.arctan2(x, y)


@case(0.3)
def sinc(x):
    return np.sinc(x)


@case(0.3, 0.8)
def logaddexp(x, y):
    return np.logaddexp(x, y)


@case(0.3)
def square(x):
    return np.square(x)


@case(0.3)
def reciprocal(x):
    return np.reciprocal(x + 1.0)


@case(0.3, -1.0)
def copysign(x, y):
    return np.copysign(x, y)


# ---- test_binary_ops: broadcasting of elementwise binary ops ----

@case(r(3, 1), r(1, 4))
def bin_add(x, y):
    return np.sum(np.sin(x + y))


@case(r(3, 4), r(4))
def bin_mul(x, y):
    return np.sum(x * y)


@case(r(3, 4), np.abs(r(4)) + 1.0)
def bin_div(x, y):
    return np.sum(x / y)


@case(np.abs(r(3, 1)) + 0.5, r(1, 4))
def bin_pow(x, y):
    return np.sum(x ** y)


# ---- test_numpy ----

@case(r(4, 5), r(5))
@case(r(4), r(4, 5))
@case(r(5), r(5))
def dot(x, y):
    return np.dot(x, y)


@case(r(4, 5), 0.7)
def dot_with_float(x, y):
    return np.dot(x, y)


@case(r(4), r(3))
def outer(x, y):
    return np.outer(x, y)


@case(A34)
def max_(x):
    return np.max(x)


@case(A345)
def max_axis(x):
    return np.max(x, axis=1)


@case(A345)
def max_axis_keepdims(x):
    return np.max(x, axis=1, keepdims=True)


@case(A34)
def min_(x):
    return np.min(x)


@case(A345)
def sum_axis_tuple(x):
    return np.sum(x, axis=(1, 2))


@case(A34)
def flipud(x):
    return np.flipud(x)


@case(A34)
def fliplr(x):
    return np.fliplr(x)


@case(A34)
def rot90(x):
    return np.rot90(x)


@case(A34)
def cumsum_axis0(x):
    return np.cumsum(x, axis=0)


@case(1.3, -0.2)
def builtin_sum(x, y):
    return sum([x, y])


@case(A34)
def mean_axis0_keepdims(x):
    return np.mean(x, axis=0, keepdims=True)


@case(0.3)
def mean_of_list(x):
    return np.mean([x, x + 2])


@case(0.3)
def std_of_tuple(x):
    return np.std((x, x + 2))


@case(0.3)
def var_of_list(x):
    return np.var([x, x + 2])


@case(A345)
def index_ints(x):
    return x[2, 0, 1]


@case(A345)
def index_slice_fanciness(x):
    return x[::-1, 2:4, :]


@case(A345)
def index_lists(x):
    return x[[0, 1, 2], :, :]


@case(A345)
def index_mixed(x):
    return x[2, 2:, [1, 3]]


@case(A345)
def index_slice_overlap(x):
    y = x[::-1, 1:3, :]
    z = x[::-1, 2:4, :]
    return y + z


@case(V6)
def index_slice_of_slice(x):
    y = x[1:5]
    z = y[1:3]
    return z


@case(A345)
def reshape_method(x):
    return x.reshape((3 * 4, 5))


@case(A345)
def reshape_call(x):
    return np.reshape(x, (3 * 4, 5))


@case(A34)
def ravel_method(x):
    return x.ravel()


@case(r(3))
def concatenate_1ist(x):
    return np.concatenate(([1.0, 2.0, 3.0], x))


@case(r(2, 3))
def concatenate_axis_0(x):
    return np.concatenate(([[7.0, 8.0, 9.0]], x, [[7.0, 8.0, 9.0]]))


@case(r(1, 2))
def concatenate_axis_1(x):
    b = np.array([[7.0, 8.0]])
    return np.concatenate((b, x, b), axis=1)


@case(r(5, 5))
def trace(x):
    return np.trace(x, offset=1)


@case(r(4, 4))
def diag_(x):
    return np.diag(x)


@case(A34)
def transpose(x):
    return x.T


@case(A34)
def roll(x):
    return np.roll(x, 2, axis=1)


@case(r(4, 4))
def triu(x):
    return np.triu(x, k=1)


@case(r(4, 4))
def tril(x):
    return np.tril(x, k=-1)


@case(A34)
def clip(x):
    return np.clip(x, a_min=0.1, a_max=1.1)


@case(A34)
def prod_1(x):
    return np.prod(x)


@case(A34)
def prod_3(x):
    return np.prod(x, axis=0, keepdims=True)


@case(0.7)
def array_from_scalar_list(x):
    return np.array([x, x * 1.0, x + 2.5])


@case(0.7)
def array_from_nested_list(x):
    return np.array([[x, x * 1.0, x + 2.5], [x**2, x, x / 2.0]])


@case(0.7)
def array_from_scalar(x):
    return np.array(x)


@case(0.7)
def r_(x):
    return np.r_[x, x]


@case(r(3))
def c_(x):
    return np.c_[x, np.ones(3), x]


@case(A34)
def var_ddof(x):
    return np.var(x, axis=1, ddof=1)


@case(A34, r(3, 4))
def where(x, y):
    return np.where(np.arange(12).reshape(3, 4) % 2 == 0, x, y)


@case(r(3, 1, 4))
def squeeze_func(x):
    return np.squeeze(x)


@case(A34)
def repeat_axis1(x):
    return np.repeat(x, 2, axis=1)


@case(A34)
def expand_dims(x):
    return np.expand_dims(x, 2)


@case(0.7)
def tensordot_kwargs_by_position(x):
    return np.tensordot(x * np.ones((2, 2)), x * np.ones((2, 2)), 2)


@case(V5)
def multi_index(x):
    return np.sum(x[[0, 0]])


@case(r(4))
def index_dot_slices(x):
    return np.dot(x[:2], x[2:])


@case(r(3, 4))
def make_diagonal(d):
    return np.sum(np.einsum("ij,jk->ijk", d, np.eye(4)))


@case(r(3, 4, 4))
def diagonal_(d):
    return np.diagonal(d, axis1=-1, axis2=-2)


@case(r(4))
def nan_to_num(x):
    y = np.array([0.0, np.nan, np.inf, -np.inf])
    return np.sum(np.sin(np.nan_to_num(x + y)))


@case(0.7)
def max_equal_values(x):
    return np.max(np.array([x, x]))


@case(0.7)
def maximum_equal_values(x):
    return np.maximum(x, x)


@case(0.3, 1.7)
def linspace(x, y):
    return np.linspace(x, y, 5)


@case(np.arange(3.0))
def astype(x):
    return np.sum(np.sin(x.astype("float64")))


@case(r(3, 4))
def einsum_matmul(x):
    return np.einsum("ij,jk->ik", x, x.T)


@case(r(3, 4), r(4, 2))
def einsum_two(x, y):
    return np.einsum("ij,jk->i", x, y)


@case(r(3, 4))
def einsum_trace(x):
    return np.einsum("ij,ij", x, x)


@case(r(2, 3, 4), r(2, 4, 5))
def matmul_batched(x, y):
    return np.matmul(x, y)


@case(r(3, 4), r(4, 5))
def matmul_operator(x, y):
    return x @ y


@case(r(3, 4))
def stack(x):
    return np.stack([x, 2 * x], axis=1)


@case(r(3), r(3))
def hstack_vstack(x, y):
    return np.sum(np.hstack([x, y]) ** 2) + np.sum(np.vstack([x, y]) ** 3)


@case(A34)
def swapaxes(x):
    return np.swapaxes(x, 0, 1)


@case(A345)
def moveaxis(x):
    return np.moveaxis(x, 0, 2)


@case(A34)
def broadcast_to(x):
    return np.broadcast_to(x[:, :1], (3, 4))


@case(r(6))
def split_(x):
    a, b = np.split(x, 2)
    return np.sum(a * b)


@case(r(3, 4))
def tile_(x):
    return np.tile(x, (2, 1))


@case(r(3, 4))
def pad(x):
    return np.pad(x, 1)


@case(r(3, 4))
def sort(x):
    return np.sort(x, axis=1)


@case(r(5))
def cumprod_(x):
    return np.cumprod(x)


@case(r(5))
def diff_(x):
    return np.diff(x)


@case(r(4, 3))
def kron_(x):
    return np.kron(x, np.array([[1.0, 2.0], [3.0, 4.0]]))


@case(r(3, 4))
def fft_abs(x):
    return np.sum(np.abs(np.fft.fft(x)))


@case(r(3, 4))
def rfft_real(x):
    return np.sum(np.real(np.fft.rfft(x)) ** 2)


# ---- test_linalg ----

@case(r(4, 4) + 4 * np.eye(4))
def inv(x):
    return np.linalg.inv(x)


@case(r(4, 3))
def pinv(x):
    return np.linalg.pinv(x)


@case(r(4, 4) + 4 * np.eye(4), r(4, 3))
def solve(a, b):
    return np.linalg.solve(a, b)


@case(r(4, 4) + 4 * np.eye(4), r(4))
def solve_1d(a, b):
    return np.linalg.solve(a, b)


@case(r(4, 4))
def det_(x):
    return np.linalg.det(x)


@case(spd(4))
def slogdet(x):
    sign, logdet = np.linalg.slogdet(x)
    return logdet


@case(r(5))
def vector_2norm(x):
    return np.linalg.norm(x)


@case(r(3, 4))
def frobenius_norm(x):
    return np.linalg.norm(x)


@case(r(3, 4))
def norm_axis(x):
    return np.linalg.norm(x, axis=1)


@case(r(5))
def vector_norm_ord1(x):
    return np.linalg.norm(x, ord=1)


@case(r(3, 4))
def norm_nuclear(x):
    return np.linalg.norm(x, ord="nuc")


@case(spd(3))
def eigh(x):
    w, v = np.linalg.eigh((x + x.T) / 2)
    return np.sum(w ** 2) + np.sum(np.abs(v[:, 0]))


@case(spd(4))
def cholesky(a):
    return np.linalg.cholesky((a + a.T) / 2)


@case(r(3, 4))
def svd_only_s(x):
    return np.linalg.svd(x, compute_uv=False)


@case(r(3, 4))
def svd_wide(x):
    u, s, v = np.linalg.svd(x, full_matrices=False)
    return np.sum(s) + np.sum(np.abs(u[:, 0]))


@case(r(3, 2))
def norm_list_of_boxes(x):
    return np.linalg.norm([x[0, 0], x[1, 1], x[2, 0]])


# ---- test_list / test_dict / test_tuple ----

@case([r(2, 3), r(3), r(2)])
def list_getter(input_list):
    a = np.sum(input_list[0])
    b = np.sum(input_list[1])
    c = np.sum(input_list[1])
    return a + b + c


@case([r(2, 3), r(3), r(2)])
def list_grads(input_list):
    a = np.sum(np.sin(input_list[0]))
    b = np.sum(np.cos(input_list[1]))
    return a + b


@case([1.0, 2.0, 3.0])
def list_slices(x):
    s = slice(None, -1, None)
    y = x[s]
    return y[0]


@case([[1.0], 2.0, 1.5])
def list_nested(x):
    return x[1:][0]


@case(1.3)
def make_list(x):
    return list((x, x))


@case({"item_1": r(2, 3), "item_2": r(3), "item_X": r(2)})
def dict_getter(input_dict):
    a = np.sum(input_dict["item_1"])
    b = np.sum(input_dict["item_2"])
    c = np.sum(input_dict["item_2"])
    return a + b + c


@case({"item_1": r(2, 3), "item_2": r(3), "item_X": r(2)})
def dict_iter(input_dict):
    a = 0.0
    b = 0.0
    for i, k in enumerate(sorted(input_dict)):
        a = a + np.sum(np.sin(input_dict[k])) * (i + 1.0)
        b = b + np.sum(np.cos(input_dict[k]))
    return a + b


@case({"item_1": r(2, 3), "item_2": r(3), "item_X": r(2)})
def dict_items_values_keys(input_dict):
    a = 0.0
    b = 0.0
    for i, (k, v) in enumerate(sorted(input_dict.items(), key=operator.itemgetter(0))):
        a = a + np.sum(np.sin(v)) * (i + 1.0)
        b = b + np.sum(np.cos(v))
    for v in input_dict.values():
        a = a + np.sum(np.sin(v))
    for k in sorted(input_dict.keys()):
        a = a + np.sum(np.cos(input_dict[k]))
    return a + b


@case({"item_1": 3.0}, 2.0)
@case({"item_2": 4.0}, 2.0)
def dict_get(d, x):
    return d.get("item_1", x) ** 2


@case(1.3)
def make_dict(x):
    return dict([("a", x)], b=x)


@case((1.0, 2.0, 3.0))
def tuple_isinstance(x):
    assert isinstance(x, tuple)
    return x[0]


# ---- test_logic ----

@case(np.array([1.0, 2.0, 3.0]))
def logic_assert(x):
    assert np.allclose(x, (x * 3.0) / 3.0)
    return np.sum(x)


@case(2.0)
def falseyness(x):
    return np.real(x**2 if np.iscomplex(x) else np.sum(x))


# ---- test_scipy ----

@case(np.abs(r(4)) + 0.5)
def special_gammaln(x):
    return scipy.special.gammaln(x)


@case(np.abs(r(4)) + 0.5)
def special_digamma(x):
    return scipy.special.digamma(x)


@case(r(4))
def special_erf(x):
    return scipy.special.erf(x)


@case(r(4))
def special_expit(x):
    return scipy.special.expit(x)


@case(r(3, 4))
def special_logsumexp(x):
    return scipy.special.logsumexp(x, axis=1)


@case(r(4), r(4), np.abs(r(4)) + 1.1)
def norm_logpdf(x, loc, scale):
    return scipy.stats.norm.logpdf(x, loc, scale)


@case(r(4), r(4), np.abs(r(4)) + 1.1)
def norm_cdf(x, loc, scale):
    return scipy.stats.norm.cdf(x, loc, scale)


@case(np.abs(r(4)) + 1.1, np.abs(r(4)) + 1.1)
def gamma_logpdf(x, a):
    return scipy.stats.gamma.logpdf(x, a)


@case(r(3, 4), r(3, 4))
def convolve2d(x, k):
    return scipy.signal.convolve2d(x, k[:2, :2], mode="valid")
