"""Why reparameterize: the article argues for the reparameterization trick from the variance of the
score-function gradient. Here the three estimators of the ELBO's gradient with respect to the
encoder's parameters meet on the loaded model and a few test digits (vae/analysis/gradients.py)."""
import streamlit as st

from ui import article_charts
from ui.article_errors import article_errors
from ui.caches import current_model, dataset, nouns
from ui.estimators import COMPARED, DIGITS, LARGEST, ratio_help, ratio_text, sample_sizes, study_of
from ui.page import page_header, show_digit
from vae.analysis.gradients import ESTIMATORS
from vae.images import grid

page_header("Why reparameterize", "The gradient of the ELBO with respect to the encoder's parameters, from L "
            "samples of q(z|x), three ways: the score function (REINFORCE: f(z) ∇ log q(z|x)), the same with a "
            "baseline (a control variate), and the reparameterization z = μ + σ·ε (the gradient flows through z). "
            "All three are unbiased; their variances are not alike.")


def estimators() -> None:
    """The three estimators compared on the loaded model (a Gaussian latent's)."""
    images = dataset(checkpoint.config.dataset, "test")[0]
    c1, c2 = st.columns(2)
    thing, things = nouns()
    count = DIGITS.widget(c1.slider, f"Test {things} in the batch", 1, 16, help="The first test images")
    largest = LARGEST.widget(c2.select_slider, "Largest L", [10, 30, 100, 300, 1000],
                             help=f"L = 1, 3, 10, ... up to this many samples per {thing}")
    show_digit(grid(images[:count].float().div(255).numpy(), cols=min(count, 8)), "the batch", scale=2)
    ls = sample_sizes(largest)
    COMPARED.to_url()
    if not COMPARED.get() and not st.button("Compare the estimators", type="primary", icon=":material/play_arrow:",
                                            help="Repeated estimates at each L, against a 10,000-sample "
                                                 "reference: from seconds (mlp) to a minute (conv) on a CPU"):
        return
    COMPARED.set(True)
    study = study_of(checkpoint.model, hash_, images, count, ls)

    m1, m2 = st.columns(2)
    m1.metric("Score function ÷ reparameterization: variances at L = 1",
              ratio_text(study), help="The variance of the score function's gradient estimate over the "
                                      "reparameterization's, each from one sample of q(z|x), summed over all the "
                                      f"encoder's parameters: the article's point in a number. {ratio_help(study)}")
    m2.metric("With a baseline ÷ reparameterization: variances at L = 1",
              ratio_text(study, of="score function + baseline", digits=1),
              help="A baseline (a control variate) removes most of the score function's variance "
                   f"({ratio_text(study, over='score function + baseline')} less); the reparameterization "
                   f"still has this many times less than that. {ratio_help(study)}")
    group = st.selectbox("Parameters", ["all", *study.groups],
                         format_func=lambda g: "all of the encoder's" if g == "all" else g)
    c1, c2 = st.columns(2)
    c1.plotly_chart(article_charts.estimator_lines(study.rows, group, "variance", "Variance: E|ĝ − E ĝ|²",
                                                   "variance (summed over the parameters)"), width="stretch")
    c2.plotly_chart(article_charts.estimator_lines(study.rows, group, "rmse", "Error against the reference: √E|ĝ − g|²",
                                                   "root-mean-square error"), width="stretch")
    repeats = {r["samples"]: r["repeats"] for r in study.rows}
    st.caption(f"Each point comes from repeated independent estimates: {repeats[min(repeats)]} at L = {min(repeats)}, "
               f"down to {repeats[max(repeats)]} at L = {max(repeats)} (a budget of samples), so the points at "
               f"large L are rough: from r repeats, one coordinate's variance is uncertain by √(2/(r − 1)), "
               f"{(2 / (repeats[max(repeats)] - 1)) ** 0.5:.0%} at r = {repeats[max(repeats)]} (a sum over many "
               "parameters is steadier).")
    st.caption("Every line falls as 1/L (variance) or 1/√L (error): more samples help all three alike, so the gap "
               "between them stays. A reparameterized gradient from one sample is about as good as a score-function "
               f"one from {study.ratio_at_one():,.0f} (± {study.ratio_error_at_one():.0%}).")
    st.dataframe([{**r, "variance": float(f"{r['variance']:.4g}"), "rmse": float(f"{r['rmse']:.4g}")}
                  for r in study.rows if r["group"] == group], hide_index=True, width="stretch",
                 column_order=["estimator", "samples", "repeats", "variance", "rmse"])
    st.caption(f"Estimators: {', '.join(ESTIMATORS)}. The baseline is each {nouns()[0]}'s ELBO from 64 separate "
               "draws.")


checkpoint, hash_ = current_model()
if checkpoint.model.latent.continuous:
    estimators()
else:
    st.info("This page compares the estimators for a Gaussian latent, whose samples z = μ + σ·ε can be "
            "differentiated. This model's latent is categorical: it trains through the Gumbel-softmax "
            "relaxation instead (see the sidebar). Pick a Gaussian checkpoint to compare the estimators.")

article_errors()
