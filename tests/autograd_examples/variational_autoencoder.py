"""autograd examples/variational_autoencoder.py: auto-encoding variational Bayes with batch-normalised MLPs.

Random +-1 "images" of 12 pixels instead of MNIST; latent 2, layers [2, 6, 5, 12] and
[12, 5, 6, 4]; batch of 5.
"""

import itertools

import numpy as np
import numpy.random as npr
from scipy.special import expit as sigmoid
from scipy.stats import norm

from wengert import grad


def diag_gaussian_log_density(x, mu, log_std):
    return np.sum(norm.logpdf(x, mu, np.exp(log_std)), axis=-1)


def unpack_gaussian_params(params):
    # Params of a diagonal Gaussian.
    D = np.shape(params)[-1] // 2
    mean, log_std = params[:, :D], params[:, D:]
    return mean, log_std


def sample_diag_gaussian(mean, log_std, rs):
    return rs.randn(*mean.shape) * np.exp(log_std) + mean


def bernoulli_log_density(targets, unnormalized_logprobs):
    # unnormalized_logprobs are in R
    # Targets must be -1 or 1
    label_probabilities = -np.logaddexp(0, -unnormalized_logprobs * targets)
    return np.sum(label_probabilities, axis=-1)  # Sum across pixels.


def relu(x):
    return np.maximum(0, x)


def init_net_params(scale, layer_sizes, rs=None):
    """Build a (weights, biases) tuples for all layers."""
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
    inputs is an (N x D) matrix.
    Applies batch normalization to every layer but the last."""
    for W, b in params[:-1]:
        outputs = batch_normalize(np.dot(inputs, W) + b)  # linear transformation
        inputs = relu(outputs)  # nonlinear transformation
    outW, outb = params[-1]
    outputs = np.dot(inputs, outW) + outb
    return outputs


def nn_predict_gaussian(params, inputs):
    # Returns means and diagonal variances
    return unpack_gaussian_params(neural_net_predict(params, inputs))


def generate_from_prior(gen_params, num_samples, noise_dim, rs):
    latents = rs.randn(num_samples, noise_dim)
    return sigmoid(neural_net_predict(gen_params, latents))


def p_images_given_latents(gen_params, images, latents):
    preds = neural_net_predict(gen_params, latents)
    return bernoulli_log_density(images, preds)


def vae_lower_bound(gen_params, rec_params, data, rs):
    # We use a simple Monte Carlo estimate of the KL
    # divergence from the prior.
    q_means, q_log_stds = nn_predict_gaussian(rec_params, data)
    latents = sample_diag_gaussian(q_means, q_log_stds, rs)
    q_latents = diag_gaussian_log_density(latents, q_means, q_log_stds)
    p_latents = diag_gaussian_log_density(latents, 0, 0)
    likelihood = p_images_given_latents(gen_params, data, latents)
    return np.mean(p_latents + likelihood - q_latents)


# Model hyper-parameters
latent_dim = 2
data_dim = 12
gen_layer_sizes = [latent_dim, 6, 5, data_dim]
rec_layer_sizes = [data_dim, 5, 6, latent_dim * 2]

# Training parameters
param_scale = 0.1
batch_size = 5

train_images = np.where(npr.RandomState(3).rand(10, data_dim) > 0.5, 1.0, -1.0)
num_batches = int(np.ceil(len(train_images) / batch_size))


def batch_indices(iter):
    idx = iter % num_batches
    return slice(idx * batch_size, (idx + 1) * batch_size)


def checks():
    def gradient():
        init_gen_params = init_net_params(param_scale, gen_layer_sizes)
        init_rec_params = init_net_params(param_scale, rec_layer_sizes)
        combined_init_params = (init_gen_params, init_rec_params)

        # Define training objective
        seed = npr.RandomState(0)

        def objective(combined_params, iter):
            data_idx = batch_indices(iter)
            gen_params, rec_params = combined_params
            return -vae_lower_bound(gen_params, rec_params, train_images[data_idx], seed) / data_dim

        # Get gradients of objective using autograd.
        objective_grad = grad(objective)
        return objective_grad(combined_init_params, 1)

    return {"grad": gradient}
