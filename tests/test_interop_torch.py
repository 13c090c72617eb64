"""The PyTorch bridge (interop/torch.py): to_torch against torch autograd and gradcheck, and torch code
inside wengert against torch.autograd.grad and finite differences. Skipped without torch."""

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import wengert  # noqa: E402
from wengert.testing import numerical_grad  # noqa: E402

F64 = torch.float64


def simulate(p, x0):
    """A NumPy simulator: 20 explicit Euler steps of a damped oscillator with parameters p."""
    x, v = x0[0], x0[1]
    for _ in range(20):
        a = -p[0] * x - p[1] * v + 0.1 * np.sin(x)
        x = x + 0.05 * v
        v = v + 0.05 * a
    return np.stack([x, v])


def test_importing_wengert_does_not_import_torch():
    code = "import sys, wengert; wengert.grad(lambda x: x * x)(1.0); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---- to_torch ----


def test_to_torch_numpy_body_gradcheck():
    sim = wengert.to_torch(simulate)
    p = torch.tensor([1.5, 0.3], dtype=F64, requires_grad=True)
    x0 = torch.tensor([1.0, 0.0], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(sim, (p, x0))


def test_to_torch_matches_the_same_code_in_torch():
    def torch_sim(p, x0):
        x, v = x0[0], x0[1]
        for _ in range(20):
            a = -p[0] * x - p[1] * v + 0.1 * torch.sin(x)
            x = x + 0.05 * v
            v = v + 0.05 * a
        return torch.stack([x, v])

    p = torch.tensor([1.5, 0.3], dtype=F64, requires_grad=True)
    x0 = torch.tensor([1.0, 0.0], dtype=F64)
    w = torch.tensor([0.7, -1.3], dtype=F64)
    y = wengert.to_torch(simulate)(p, x0)
    expected = torch.autograd.grad((torch_sim(p, x0) * w).sum(), p)[0]
    got = torch.autograd.grad((y * w).sum(), p)[0]
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(y, torch_sim(p, x0).detach())


def test_to_torch_against_finite_differences():
    f = lambda p: np.sum(np.cumsum(np.sin(p)) ** 2)  # noqa: E731
    p = np.array([0.3, -0.4, 1.2])
    t = torch.tensor(p, requires_grad=True)
    wengert.to_torch(f)(t).backward()
    np.testing.assert_allclose(t.grad.numpy(), numerical_grad(f, (p,), 0)[()], rtol=1e-6)


def test_to_torch_composes_with_modules_before_and_after():
    torch.manual_seed(0)
    before = torch.nn.Linear(3, 2).double()
    after = torch.nn.Linear(2, 1).double()
    sim = wengert.to_torch(simulate)
    x = torch.randn(3, dtype=F64)
    p0 = torch.tensor([1.5, 0.3], dtype=F64)

    def model(w1, b1, w2, b2):
        p = p0 + torch.tanh(torch.nn.functional.linear(x, w1, b1))
        return torch.nn.functional.linear(sim(p, torch.tensor([1.0, 0.0], dtype=F64)), w2, b2).sum()

    params = [before.weight, before.bias, after.weight, after.bias]
    assert torch.autograd.gradcheck(model, tuple(q.detach().requires_grad_() for q in params))
    model(*params).backward()
    assert all(q.grad is not None and torch.isfinite(q.grad).all() for q in params)


def test_to_torch_tuple_output_and_non_tensor_arguments():
    f = wengert.to_torch(lambda x, n: (np.sin(x) * n, np.sum(x ** 2)))
    x = torch.tensor([0.2, 0.5], dtype=F64, requires_grad=True)
    a, b = f(x, 3)
    (a.sum() + b).backward()
    torch.testing.assert_close(x.grad, 3 * torch.cos(x.detach()) + 2 * x.detach())


def test_to_torch_float32_keeps_dtype():
    f = wengert.to_torch(lambda x: np.sum(np.exp(x)))
    x = torch.tensor([0.1, 0.2], requires_grad=True)
    y = f(x)
    assert y.dtype == torch.float32
    y.backward()
    assert x.grad.dtype == torch.float32
    torch.testing.assert_close(x.grad, torch.exp(x.detach()))


def test_to_torch_torch_body():
    f = wengert.to_torch(lambda x: (torch.sin(x) * x).sum(), numpy=False)
    x = torch.tensor([0.3, -0.8, 1.1], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (x,))


# ---- torch code inside wengert ----


def torch_code(x):
    return torch.sin(x).sum() * x.exp()[2] + (x[1:3] ** 2).sum() + torch.nn.functional.softplus(x).mean()


def test_grad_of_torch_code_matches_torch_autograd():
    x = torch.randn(5, dtype=F64, generator=torch.Generator().manual_seed(1))
    xr = x.clone().requires_grad_()
    torch.testing.assert_close(wengert.grad(torch_code)(x), torch.autograd.grad(torch_code(xr), xr)[0])


def test_grad_of_torch_code_matches_finite_differences():
    x = np.array([0.3, -0.2, 0.5, 1.0, -1.1])
    num = numerical_grad(lambda a: float(torch_code(torch.tensor(a))), (x,), 0)[()]
    np.testing.assert_allclose(wengert.grad(torch_code)(torch.tensor(x)).numpy(), num, rtol=1e-6)


def test_grad_through_an_nn_module():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1)).double()

    def loss(x):
        y = x
        for _ in range(2):
            y = y + 0.1 * net(y).sum() * torch.cos(y)
        return (y ** 2).sum()

    x = torch.randn(4, dtype=F64)
    xr = x.clone().requires_grad_()
    torch.testing.assert_close(wengert.grad(loss)(x), torch.autograd.grad(loss(xr), xr)[0])
    assert all(q.grad is None for q in net.parameters())  # parameters are constants here


def test_forward_mode_on_torch_code():
    x = torch.tensor([0.3, -0.2, 0.5, 1.0, -1.1], dtype=F64)
    t = torch.tensor([1.0, 0.5, -1.0, 0.0, 2.0], dtype=F64)
    y, y_dot = wengert.jvp(torch_code, (x,), (t,))
    ey, ey_dot = torch.func.jvp(torch_code, (x,), (t,))
    torch.testing.assert_close(y, ey)
    torch.testing.assert_close(y_dot, ey_dot)


def test_hook_and_checkpoint_on_tensors():
    step = wengert.checkpoint(lambda s: torch.tanh(s) * 1.5 + s.sin())

    def loss(x):
        s = x
        for _ in range(3):
            s = wengert.hook(lambda g: g * 1.0, step(s))
        return s.sum() + wengert.stop_gradient(x).sum() * x[0]

    x = torch.tensor([0.3, -0.2, 0.5], dtype=F64)
    xr = x.clone().requires_grad_()

    def ref(x):
        s = x
        for _ in range(3):
            s = torch.tanh(s) * 1.5 + s.sin()
        return s.sum() + x.detach().sum() * x[0]

    torch.testing.assert_close(wengert.grad(loss)(x), torch.autograd.grad(ref(xr), xr)[0])
