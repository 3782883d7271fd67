"""The models: the VAE (model.py) and its latent kinds (latents.py), its losses, the mixtures EM fits
to its codes (gmm.py, categorical_mixture.py), and the small digit classifier that scores samples."""
