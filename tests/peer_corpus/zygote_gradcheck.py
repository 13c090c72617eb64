"""Programs translated from FluxML/Zygote.jl's test/gradcheck_p1..p4.jl (gradtest calls:
broadcasting, reductions, indexing, linear algebra, concatenation, LogExpFunctions),
written with NumPy. Julia is column-major and 1-based; the translations index from 0."""

import math

import numpy as np
import scipy.linalg
import scipy.special

from tests.peer_corpus.harness import registry

CASES, case = registry("zygote_gradcheck")

R = np.random.default_rng(2)


def r(*shape):
    return R.standard_normal(shape)


@case(r(5), r(2, 5), r(2))
@case(r(5, 3), r(2, 5), r(2, 1))
def dense_identity(x, W, b):
    return W @ x + b


@case(r(5), r(2, 5), r(2))
def dense_tanh(x, W, b):
    return np.tanh(W @ x + b)


@case(r(10, 2), r(10))
def adjoint_matvec(w, x):
    return w.T @ x


@case(r(3, 4, 5))
def sum_dims_23(x):
    return np.sum(x, axis=(1, 2))


@case(r(4, 3, 2))
def sum_abs2(x):
    return np.sum(np.abs(x) ** 2)


@case(r(4, 3, 2))
def sum_abs2_dims1(x):
    return np.sum(x ** 2, axis=0)


@case(r(6))
def sum_generator(x):
    return sum(x[i] for i in range(len(x)))


@case(r(6))
def sum_map_lambda(x):
    return sum(map(lambda i: x[i], range(len(x))))


@case(r(6))
def sum_listcomp_square(X):
    return sum([x ** 2 for x in X])


@case(r(3, 4, 5))
def prod_dims(x):
    return np.prod(x, axis=(1, 2))


@case(r(3, 4))
def prod_all(x):
    return np.prod(x)


@case(r(3, 4, 5))
def cumsum_dims2(x):
    return np.cumsum(x, axis=1)


@case(r(4, 4))
def gradtest_det(x):
    return np.linalg.det(x)


@case(r(4, 4))
def logdet_of_gram(a):
    return np.log(np.linalg.det(a @ a.T))


@case(r(4, 4))
def logabsdet(x):
    return np.linalg.slogdet(x)[1]


@case(r(3, 4, 5))
def getindex_colon(x):
    return x[:, 1, :]


@case(r(3, 4))
def getindex_ranges(x):
    return x[0:2, 2:4]


@case(r(3, 4))
def getindex_repeated_columns(x):
    return x[:, [0, 1, 1]]


@case(r(3, 4))
def getindex_int_array(x):
    return x[0, np.array([0, 2, 0, 3])]


@case(r(3, 4))
def map_sum_eachcol(x):
    return np.array([np.sum(c) for c in x.T])


@case(r(3, 4))
def map_norm_eachrow(x):
    return np.array([np.linalg.norm(row) for row in x])


@case(r(7))
def reverse(x):
    return x[::-1]


@case(r(4, 5))
def reverse_dims2(x):
    return np.flip(x, axis=1)


@case(r(4, 5, 6))
def permutedims(x):
    return np.transpose(x, (2, 0, 1))


@case(r(5))
def repeat_inner(x):
    return np.repeat(x, 2)


@case(r(5))
def repeat_outer(x):
    return np.tile(x, 3)


@case(r(4, 4))
def tr(x):
    return np.trace(x)


@case(r(1))
def fill(x):
    return np.full((3, 2), x[0])


@case(r(5))
def circshift(x):
    return np.roll(x, 2)


@case(r(10), r(10))
def dot(x, y):
    return np.dot(x, y)


@case(r(10, 3), r(10, 3))
def dot_matrices(x, y):
    return np.vdot(x, y)


@case(r(5), r(3))
def gradtest_kron(x, y):
    return np.kron(x, y)


@case(r(2, 3))
def map_square(xs):
    return np.sum(np.array([x ** 2 for x in xs.ravel()]))


@case([r(5) for _ in range(3)])
def map_varargs(xss):
    return sum(map(lambda *xs: math.sqrt(sum(v ** 2 for v in xs)), *xss))


@case(r(5))
def sort(x):
    return np.sort(x)


@case(r(8))
def filter_positive(xs):
    return sum(filter(lambda x: x > 0.5, xs))


@case(r(2, 3, 4))
def mean_dims(x):
    return np.mean(x, axis=(0, 1))


@case(r(2, 3))
def var(x):
    return np.var(x, ddof=1)


@case(r(2, 3, 4))
def var_dims_uncorrected(x):
    return np.var(x, axis=2)


@case(r(2, 3))
def std(x):
    return np.std(x, ddof=1)


@case(r(2, 3, 4))
def std_dims(x):
    return np.std(x, axis=(0, 1))


@case(r(4, 4) + 4 * np.eye(4), r(4, 3))
def backsolve(a, y):
    return np.linalg.solve(a, y)


@case(r(4), r(4, 3))
def backsolve_diagonal(d, y):
    return np.linalg.solve(np.diag(np.abs(d) + 1.0), y)


@case(np.tril(r(4, 4)) + 4 * np.eye(4), r(4))
def backsolve_lower_triangular(low, y):
    return scipy.linalg.solve_triangular(np.tril(low), y, lower=True)


@case(r(3, 4), r(4, 4) + 4 * np.eye(4))
def rdiv(y, x):
    return np.linalg.solve(x.T, y.T).T


@case(r(3, 3))
def cholesky_factor(a):
    return np.linalg.cholesky(a.T @ a + np.eye(3)).T


@case(r(3, 3))
def cholesky_logdet(a):
    c = np.linalg.cholesky(a.T @ a + np.eye(3))
    return 2 * np.sum(np.log(np.diag(c)))


@case(r(3, 3) / 3)
def matrix_exponential(a):
    return scipy.linalg.expm(a)


@case(r(3, 3))
def eigen_symmetric(a):
    s = a + a.T
    w, v = np.linalg.eigh(s)
    return w


@case(r(3, 3))
def symmetric(x):
    return np.triu(x) + np.triu(x, 1).T


@case(r(4, 4))
def diagonal_of(a):
    return np.diag(np.diag(a))


@case(r(3, 3))
def plus_uniform_scaling(a):
    return a + 5 * np.eye(3)


@case(r(1), r(3, 3))
def lambda_identity(lam, a):
    return a + lam[0] * np.eye(3)


@case(r(3), r(3))
def euclidean_distance(x, y):
    return np.sqrt(np.sum((x - y) ** 2))


@case(r(3, 4), r(3, 5))
def pairwise_sqeuclidean(x, y):
    return np.sum(x ** 2, axis=0)[:, None] + np.sum(y ** 2, axis=0)[None, :] - 2 * x.T @ y


@case(1.0, 2.0)
def vcat_scalars(x, y):
    return np.sum(np.array([x, y]))


@case(r(3))
def vcat_with_constant(x):
    return np.sum(np.concatenate([x, [1.0], x]))


@case(r(3), 4.0)
def vcat_vector_scalar(x, y):
    return np.sum(np.concatenate([x, [y], [y]]))


@case(1.0, 1.0, 1.0, 4.0)
def hcat_matrix_literal(a, b, c, d):
    return np.sum(np.sqrt(np.array([[a, b], [c, d]])))


@case(r(4))
def hvcat(xs):
    return np.array([[xs[0], xs[1]], [xs[2], xs[3]]])[1, 0]


@case(r(2, 5), r(2, 5), r(2, 5))
def cat_dims1(a, b, c):
    return np.concatenate([a, b, c], axis=0)


@case(r(2, 5, 3), r(2, 5, 3))
def cat_dims3(a, b):
    return np.concatenate([a, b], axis=2)


@case(r(2, 5), r(2, 5))
def cat_newdim(a, b):
    return np.stack([a, b], axis=2)


@case(r(3, 3) ** 2)
def xlogx(x):
    return scipy.special.xlogy(x, x)


@case(r(3, 3) ** 2, r(3, 3) ** 2 + 0.5)
def xlogy(x, y):
    return scipy.special.xlogy(x, y)


@case(r(3, 3))
def logistic(x):
    return scipy.special.expit(x)


@case(np.abs(r(3, 3)) / 4 + 0.2)
def logit(x):
    return scipy.special.logit(x)


@case(r(3, 3))
def log1pexp(x):
    return np.logaddexp(0.0, x)


@case(r(3, 3), r(3, 3))
def logaddexp(x, y):
    return np.logaddexp(x, y)


@case(r(3, 3) + 3.0, r(3, 3))
def logsubexp(x, y):
    return x + np.log1p(-np.exp(y - x))


@case(r(1))
@case(r(3, 4, 5))
def logsumexp(x):
    return scipy.special.logsumexp(x)


@case(r(4, 4))
def logsumexp_dims(x):
    return np.sum(scipy.special.logsumexp(x, axis=0))


@case(r(3, 4))
def broadcast_eq_mask(x):
    return np.sum(x * (x == np.max(x, axis=0, keepdims=True)))


@case(r(3, 4), r(3, 4))
def array_add_sub_neg(a, b):
    return (a + b) - (-a)


@case(r(4, 3))
def fft_roundtrip(x):
    return np.real(np.fft.ifft(np.fft.fft(x, axis=0), axis=0))[1, 2]


@case(r(4, 3))
def rfft_abs(x):
    return np.sum(np.abs(np.fft.rfft2(x)))


@case(1.3)
def fill_broadcast(x):
    return np.exp(np.full(4, 3 * x))


@case(2.0, 3.0, 4.0)
def fma_muladd(x, y, z):
    return x * y + z


@case(r(2))
def buffer_vstack(x):
    buf = np.zeros(4)
    buf[0:2] = x
    buf[2:4] = 2 * x
    return np.sum(buf)


@case(r(3))
def nograd_random(x):
    return np.sum(x) + np.sum(np.random.default_rng(0).random(3))
