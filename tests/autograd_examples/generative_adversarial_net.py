"""autograd examples/generative_adversarial_net.py: a GAN objective, differentiated in both players at once.

Random images of 12 pixels instead of MNIST; noise 3, generator [3, 6, 6, 12],
discriminator [12, 6, 6, 1], batch of 5. `grad(objective, argnum=(0, 1))` is written
`grad(objective, (0, 1))` (autograd's `argnum`, wengert's `argnums`, both positional).
"""

import itertools

import numpy as np
import numpy.random as npr

from wengert import grad

### Define geneerator, discriminator, and objective ###


def relu(x):
    return np.maximum(0, x)


def sigmoid(x):
    return 0.5 * (np.tanh(x) + 1.0)


def logsigmoid(x):
    return x - np.logaddexp(0, x)


def init_random_params(scale, layer_sizes, rs=None):
    """Build a list of (weights, biases) tuples,
    one for each layer in the net."""
    rs = rs if rs is not None else npr.RandomState(0)
    return [
        (
            scale * rs.randn(m, n),  # weight matrix
            scale * rs.randn(n),
        )  # bias vector
        for m, n in itertools.pairwise(layer_sizes)
    ]


def batch_normalize(activations):
    mbmean = np.mean(activations, axis=0, keepdims=True)
    return (activations - mbmean) / (np.std(activations, axis=0, keepdims=True) + 1)


def neural_net_predict(params, inputs):
    """Params is a list of (weights, bias) tuples.
    inputs is an (N x D) matrix."""
    inpW, inpb = params[0]
    inputs = relu(np.dot(inputs, inpW) + inpb)
    for W, b in params[1:-1]:
        outputs = batch_normalize(np.dot(inputs, W) + b)
        inputs = relu(outputs)
    outW, outb = params[-1]
    outputs = np.dot(inputs, outW) + outb
    return outputs


def generate_from_noise(gen_params, num_samples, noise_dim, rs):
    noise = rs.rand(num_samples, noise_dim)
    samples = neural_net_predict(gen_params, noise)
    return sigmoid(samples)


def gan_objective(gen_params, dsc_params, real_data, num_samples, noise_dim, rs):
    fake_data = generate_from_noise(gen_params, num_samples, noise_dim, rs)
    logprobs_fake = logsigmoid(neural_net_predict(dsc_params, fake_data))
    logprobs_real = logsigmoid(neural_net_predict(dsc_params, real_data))
    return np.mean(logprobs_real) - np.mean(logprobs_fake)


# Model hyper-parameters
noise_dim = 3
gen_layer_sizes = [noise_dim, 6, 6, 12]
dsc_layer_sizes = [12, 6, 6, 1]

# Training parameters
param_scale = 0.3
batch_size = 5

train_images = npr.RandomState(2).rand(10, 12)
num_batches = int(np.ceil(len(train_images) / batch_size))


def batch_indices(iter):
    idx = iter % num_batches
    return slice(idx * batch_size, (idx + 1) * batch_size)


def checks():
    def gradient():
        init_gen_params = init_random_params(param_scale, gen_layer_sizes)
        init_dsc_params = init_random_params(param_scale, dsc_layer_sizes, rs=npr.RandomState(1))

        # Define training objective
        seed = npr.RandomState(0)

        def objective(gen_params, dsc_params, iter):
            idx = batch_indices(iter)
            return gan_objective(gen_params, dsc_params, train_images[idx], batch_size, noise_dim, seed)

        # Get gradients of objective using autograd.
        both_objective_grad = grad(objective, (0, 1))
        return both_objective_grad(init_gen_params, init_dsc_params, 0)

    return {"grad": gradient}
