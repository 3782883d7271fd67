"""The figures' own readability (ui/charts.py): ticks that read as the numbers they are, curves
from epoch 0, one legend clear of the axis titles, a row of charts that lines up."""
from ui.charts import LEGEND_ENTRY, LEGEND_FRAME, LEGEND_LINE, log_ticks, loss_curves, shared_legend
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
    # Ticks at both ends: a curve from 70 to 165 had none above 100
    assert [t for t in log_ticks(70.0, 165.0)["ticktext"] if 70 <= float(t) <= 165] == ["80", "100", "120", "140",
                                                                                        "160"]


def test_loss_curves_start_at_epoch_zero_with_one_legend_for_the_row():
    history = [{"epoch": e, "train_recon": 100 / e, "train_kl": 20 + e, "test_recon": 110 / e, "test_kl": 21 + e}
               for e in (1, 2, 3)]
    legend, figures = shared_legend(loss_curves([RunLog("run", history, [])], log_y=True))
    assert [t.name for t in legend.data] == ["train (epoch)", "test (epoch)"]
    for figure in figures:
        assert figure.layout.xaxis.rangemode == "nonnegative" and figure.layout.showlegend is False
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
    # A single run's legend names its KL chart's two parts, drawn in the test color and otherwise unexplained
    assert {t.name for t in kl.data if t.showlegend} == set(parts)
    assert not any(t.showlegend for t in total.data)
    _, kl_of_two, _ = loss_curves([RunLog("run-a", history, []), RunLog("run-b", history, [])])
    assert not any(t.showlegend for t in kl_of_two.data)  # several runs: Loss curves' caption names the parts


def _history(epochs=(1, 2, 3), **extra) -> list[dict]:
    return [{"epoch": e, "train_recon": 100.0 / e, "train_kl": 20.0 + e, "test_recon": 110.0 / e, "test_kl": 21.0 + e,
             **extra} for e in epochs]


def test_a_row_of_loss_curves_has_one_legend_apart_and_charts_of_one_height():
    """A legend inside a chart took room from its plot (several runs: 8 entries under the first
    chart), so the row's x axes stood at different heights. The row's legend is a figure of its own,
    as tall as its entries and their lines (listed one under the other: its height does not depend on
    the screen's width), and the charts, the temperature's too, have none and one height."""
    steps = [{"epoch": 0.5, "train_recon": 150.0, "train_kl": 15.0, "temperature": 0.8}]
    parts = dict(test_mutual_information=6.0, test_marginal_kl=4.0, test_kl_parts_stderr=0.05)
    one = [RunLog("run-a", _history(**parts), steps)]
    several = [RunLog("run-a", _history(), steps), RunLog("run-b", _history(), []),
               RunLog("categorical", _history(train_exact_elbo=-100.0, train_exact_recon=80.0, train_exact_kl=20.0,
                                              train_exact_images=600, temperature=0.5), steps,
                      config=ModelConfig(latent="categorical"))]
    expected = {  # the legend's entries, and how many lines beyond one an entry each they take
        "one run": (one, ["train (per step)", "train (epoch)", "test (epoch)",
                          "test: I_q(n; z), the codes' information", "test: KL(q(z) ‖ p(z)), the aggregate's"], 0),
        "several runs": (several, ["run-a", "run-b",
                                   "categorical<br>train: relaxed objective<br>dotted ◆: exact one-hot samples"], 2),
    }
    for what, (runs, entries, extra_lines) in expected.items():
        figures = loss_curves(runs, log_y=True)
        assert len(figures) == 4, what  # the temperature's figure is in the row too
        legend, figures = shared_legend(figures)
        assert [t.name for t in legend.data] == entries, what
        assert legend.layout.height == LEGEND_ENTRY * len(entries) + LEGEND_LINE * extra_lines + LEGEND_FRAME
        assert legend.layout.legend.orientation == "v" and legend.layout.legend.itemclick is False
        assert len({f.layout.height for f in figures}) == 1 and not any(f.layout.showlegend for f in figures)
    # Several runs: each series keeps its full name for the hover
    recon = loss_curves(several)[0]
    assert {t.name for t in recon.data if t.name.startswith("run-b: ")} == {"run-b: train (epoch)",
                                                                             "run-b: test (epoch)"}
    assert shared_legend([])[0] is None


def test_a_run_name_is_shown_as_text_in_the_charts():
    """A folder's name is user text: plotly would read <b> or <a href> in a trace's name (and it does
    not decode &quot;, so quotes stay as they are)."""
    runs = [RunLog('<b>bold</b> & "q"', _history(temperature=0.5), []), RunLog("plain", _history(), [])]
    names = [t.name for f in loss_curves(runs) for t in f.data]
    assert '&lt;b&gt;bold&lt;/b&gt; &amp; "q"' in names and not any("<b>" in n for n in names)


def test_crowded_labels_take_different_places():
    """Compare models' rate–distortion chart: four runs within a few nats of each other wrote their
    names over one another, all "top center"."""
    from ui.charts import label_places

    kl, recon = [10.0, 21.7, 25.2, 21.9, 25.3], [200.0, 75.1, 79.6, 77.9, 60.0]
    names = ["article-eps-uniform", "default", "article-eps-gaussian", "mnist-categorical", "mnist-binarized-resnet"]
    places = label_places(kl, recon, names)
    assert places[0] == "middle right"  # alone, at the left edge: right of its point, inside the chart
    assert len(set(places[1:4])) == 3  # the three within a few nats: three places
    assert label_places([], [], []) == [] and label_places([1.0], [1.0], ["a"]) == ["top center"]


def test_labels_with_no_room_go_unlabelled_rather_than_over_another_or_off_the_chart():
    """Runs trained alike land on one spot: their names take the places around it while there are
    any, the rest get none (the page names them under the chart), and no label covers another; a
    long name at the right edge goes left of its point."""
    from ui.charts import LABEL_PLACES, label_places

    names = [f"run-20261207-0036{k:02d}" for k in range(12)] + ["default", "b4"]
    kl, recon = [20.0] * 12 + [30.0, 10.0], [80.0] * 12 + [90.0, 70.0]
    places = label_places(kl, recon, names)
    placed = [k for k, place in enumerate(places) if place]
    crowd = [k for k in placed if k < 12]
    assert places[12] and places[13] and 3 <= len(crowd) < 12 and len({places[k] for k in crowd}) == len(crowd)
    corners = dict(LABEL_PLACES)
    boxes = []
    for k in placed:  # in the function's px: the data's range fills 330 x 250
        x, y = (kl[k] - 10) / 20 * 330, (recon[k] - 70) / 20 * 250
        w, h = 6.5 * len(names[k]), 14.0
        dx, dy = corners[places[k]](w, h)
        boxes.append((x + dx, y + dy, x + dx + w, y + dy + h))
    assert all(a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
               for i, a in enumerate(boxes) for b in boxes[i + 1:])
    right = label_places([0.0, 100.0], [0.0, 0.0], ["a", "run-20261206-234250 is long"])
    assert right[1] in ("middle left", "top left", "bottom left")


def test_the_colour_bars_numbers_are_round_and_inside_its_span():
    from ui.map_chart import ticks

    for low, high in ((42.21, 163.6), (-2.14, 2.47), (0.0, 1.0), (0.0312, 0.0977), (5.0, 5.0)):
        marks = ticks(low, high)
        assert 1 <= len(marks) <= 7, (low, high, marks)
        assert all(0 <= m["at"] <= 1 for m in marks)
        values = [float(m["text"]) for m in marks]
        assert values == sorted(values) and all(low - 1e-9 <= v <= high + 1e-9 for v in values)
    assert [m["text"] for m in ticks(42.21, 163.6)] == ["60", "80", "100", "120", "140", "160"]
    assert [m["text"] for m in ticks(-2.14, 2.47)] == ["-2", "-1", "0", "1", "2"]


def test_the_bic_chart_says_when_its_lowest_is_only_the_end_of_the_range_tried():
    from ui.article_charts import bic

    assert bic({1: 5.0, 3: 1.0, 30: 2.0}).data[1].name == "lowest: k = 3"
    assert bic({1: 5.0, 3: 4.0, 30: 2.0}).data[1].name == "lowest of those tried: k = 30"  # still falling
