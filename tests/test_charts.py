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
    # Curves within one step of the grid (a short run's reconstruction) still get ticks in view
    for low, high in ((139.0, 181.0), (150.0, 155.0), (4.0, 14.4), (95.0, 105.0)):
        shown = [float(t) for t in log_ticks(low, high)["ticktext"] if low <= float(t) <= high]
        assert len(shown) >= 3, (low, high, shown)
    assert [t for t in log_ticks(139.0, 181.0)["ticktext"] if 139 <= float(t) <= 181] == ["140", "160", "180"]
    assert [t for t in log_ticks(94.0, 171.0)["ticktext"] if 94 <= float(t) <= 171] == ["100", "120", "140", "160"]


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


def test_the_kl_curve_shows_its_two_parts_with_their_errors_where_the_run_recorded_them():
    """Issue #25: test KL = I_q(n; z) + KL(q(z) || p(z)), drawn per epoch with one standard error."""
    from vae.services.runs import RunLog

    history = [{"epoch": e, "train_recon": 100.0 - e, "train_kl": 10.0 + e, "test_recon": 101.0 - e,
                "test_kl": 10.0 + e, "test_mutual_information": 6.0 + e, "test_marginal_kl": 4.0,
                "test_kl_parts_stderr": 0.05} for e in (1, 2, 3)]
    history[1] = {k: v for k, v in history[1].items()
                  if k not in ("test_mutual_information", "test_marginal_kl", "test_kl_parts_stderr")}  # not recorded
    _, kl, total = loss_curves([RunLog("run-a", history, [])])
    parts = {t.name: t for t in kl.data if "I_q" in t.name or "q(z) ‖ p(z)" in t.name}
    assert len(parts) == 2
    information = next(t for name, t in parts.items() if "I_q" in name)
    assert list(information.x) == [1, 3] and list(information.y) == [7.0, 9.0]  # the epochs that recorded it
    assert list(information.error_y.array) == [0.05, 0.05]
    assert not any("I_q" in t.name for t in total.data)
    # A single run's KL figure names its two parts in a legend of its own, and nothing else there
    assert kl.layout.showlegend and {t.name for t in kl.data if t.showlegend is not False} == set(parts)
    assert not total.layout.showlegend
    _, kl_of_two, _ = loss_curves([RunLog("run-a", history, []), RunLog("run-b", history, [])])
    assert not kl_of_two.layout.showlegend  # several runs: Loss curves' caption names the parts
