"""The figures' own readability (ui/charts.py): ticks that read as the numbers they are, curves
from epoch 0, one legend clear of the axis titles, a row of charts that lines up."""
from ui.charts import LEGEND_ENTRY, LEGEND_LINE, log_ticks, loss_curves
from vae.config import ModelConfig
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
        assert figure.layout.legend.yref == "container" and figure.layout.margin.b >= 55 + 3 * LEGEND_ENTRY
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


def _history(epochs=(1, 2, 3), **extra) -> list[dict]:
    return [{"epoch": e, "train_recon": 100.0 / e, "train_kl": 20.0 + e, "test_recon": 110.0 / e, "test_kl": 21.0 + e,
             **extra} for e in epochs]


def test_a_row_of_loss_curves_lines_up_whatever_its_legends():
    """A legend that took more lines than its figure's margin held shrank that figure's plot, so the
    row's x axes stood at different heights (several runs: 8 entries under the first chart). Every
    figure's plot has the same height, and its bottom margin holds the row's tallest legend, counted
    line by line (a vertical legend: its height does not depend on the column's width)."""
    steps = [{"epoch": 0.5, "train_recon": 150.0, "train_kl": 15.0, "temperature": 0.8}]
    parts = dict(test_mutual_information=6.0, test_marginal_kl=4.0, test_kl_parts_stderr=0.05)
    rows = {
        "one run, its KL parts": [RunLog("run-a", _history(**parts), steps)],
        "several runs, one of them relaxed": [
            RunLog("run-a", _history(), steps), RunLog("run-b", _history(), []),
            RunLog("categorical", _history(train_exact_elbo=-100.0, train_exact_recon=80.0, train_exact_kl=20.0,
                                           train_exact_images=600, temperature=0.5), steps,
                   config=ModelConfig(latent="categorical"))],
    }
    for what, runs in rows.items():
        figures = loss_curves(runs, log_y=True)
        assert len(figures) == 4, what  # the temperature's figure is in the row too
        plots = {f.layout.height - f.layout.margin.t - f.layout.margin.b for f in figures}
        assert len(plots) == 1, (what, plots)
        for figure in figures:
            shown = [t for t in figure.data if t.showlegend]
            lines = sum(LEGEND_ENTRY + LEGEND_LINE * t.name.count("<br>") for t in shown)
            assert figure.layout.margin.b >= 55 + lines, what
            assert figure.layout.legend.orientation == "v" and bool(figure.layout.showlegend) == bool(shown)
    recon, kl, _, temperature = loss_curves(rows["several runs, one of them relaxed"])
    # Several runs: an entry a run, its special train figures said under its name
    assert [t.name for t in recon.data if t.showlegend] == [
        "run-a", "run-b", "categorical<br>train: relaxed objective<br>dotted ◆: exact one-hot samples"]
    assert not any(t.showlegend for f in (kl, temperature) for t in f.data)
    # Each series keeps its full name for the hover, in its run's legend group
    assert {t.legendgroup for t in recon.data if t.name.startswith("run-b: ")} == {"run-1"}


def test_a_run_name_is_shown_as_text_in_the_charts():
    """A folder's name is user text: plotly would read <b> or <a href> in a trace's name."""
    runs = [RunLog("<b>bold</b>", _history(temperature=0.5), []), RunLog("plain", _history(), [])]
    names = [t.name for f in loss_curves(runs) for t in f.data]
    assert "&lt;b&gt;bold&lt;/b&gt;" in names and not any("<b>" in n for n in names)
