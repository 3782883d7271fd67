"""The figures' own readability (ui/charts.py): ticks that read as the numbers they are, curves
from epoch 0, one legend clear of the axis titles."""
from ui.charts import log_ticks, loss_curves
from vae.services.runs import RunLog


def test_log_ticks_are_written_out_in_full():
    """Issue #20: plotly labels 20 and 30 on a log axis as "2" and "3", above a "10"."""
    ticks = log_ticks(2.0, 40.0)
    assert ticks["ticktext"] == ["2", "5", "10", "20", "50"] and ticks["tickvals"] == [2, 5, 10, 20, 50]
    assert log_ticks(90, 300)["ticktext"] == ["60", "70", "80", "90", "100", "200", "300", "400"]
    assert log_ticks(0.02, 500)["ticktext"][:3] == ["0.02", "0.05", "0.1"]


def test_loss_curves_start_at_epoch_zero_with_one_legend_below_the_axis_title():
    history = [{"epoch": e, "train_recon": 100 / e, "train_kl": 20 + e, "test_recon": 110 / e, "test_kl": 21 + e}
               for e in (1, 2, 3)]
    figures = loss_curves([RunLog("run", history, [])], log_y=True)
    assert [f.layout.showlegend for f in figures] == [True, False, False]
    for figure in figures:
        assert figure.layout.xaxis.rangemode == "nonnegative"
        assert figure.layout.legend.yref == "container" and figure.layout.margin.b >= 80
        assert all("." not in t or t.startswith("0.") for t in figure.layout.yaxis.ticktext)


def test_mixture_components_have_colors_readable_on_both_themes():
    """Issue #20: component 5 was near-black, invisible on the dark theme."""
    from ui.article_charts import COMPONENT_COLORS, luminance

    assert len(set(COMPONENT_COLORS)) == 30  # the EM page's largest K
    assert all(0.2 <= luminance(c) <= 0.8 for c in COMPONENT_COLORS)
