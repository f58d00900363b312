"""The quality-versus-steps plot: log y axis, diverged points marked rather than plotted."""

import math

from PIL import Image

from difflab.report.plots import diverged_points, plot_quality_vs_steps

DEMO_LIKE = {  # the demo's shape: Heun at 4 steps diverges (FD 15 260), the rest are 44-151
    "ddim": {4: 151.0, 8: 90.0, 16: 60.0, 32: 44.0},
    "heun": {4: 15260.0, 8: 120.0, 16: 50.0, 32: 45.0},
    "dpmpp2m": {4: 100.0, 8: 55.0, 16: 46.0, 32: 44.5},
}


def test_diverged_points_are_the_outliers_and_the_missing():
    assert diverged_points(DEMO_LIKE) == {("heun", 4)}
    with_gaps = {"a": {4: None, 8: math.nan, 16: 2.0, 32: 1.5}, "b": {4: 2.5, 8: math.inf}}
    assert diverged_points(with_gaps) == {("a", 4), ("a", 8), ("b", 8)}
    assert diverged_points({"a": {4: 1.0, 8: 1.2}}) == set()


def test_plot_draws_with_diverged_and_refused_points(tmp_path):
    for name, data in {"demo": DEMO_LIKE, "gaps": {"a": {4: None, 8: 3.0, 16: 2.0}}}.items():
        path = plot_quality_vs_steps(data, tmp_path / f"{name}.png", "classifier_fd", floor=15.2)
        with Image.open(path) as img:
            assert img.size[0] > 200 and img.size[1] > 150
