"""vae: a variational autoencoder on MNIST, as a plain library (no Streamlit).

    from vae.training.checkpoint import load_checkpoint
    model = load_checkpoint("checkpoints/default").model
    mu, logvar = model.encode(x)          # x (B, 1, 28, 28) in [0, 1]
    images = model.decode(mu)             # (B, 28, 28)

Command line: `python -m vae --help`.
"""
__version__ = "0.1.0"
