"""Report helpers: sample grids and pictures, quality-vs-steps curves, scatter plots, markdown."""

from difflab.report.image_folder import save_image_folder
from difflab.report.image_grid import make_grid, save_image_grid
from difflab.report.markdown import markdown_table, write_report
from difflab.report.plots import plot_quality_vs_steps, save_figure, save_scatter
from difflab.report.samples import save_samples_picture

__all__ = [
    "make_grid",
    "markdown_table",
    "plot_quality_vs_steps",
    "save_figure",
    "save_image_folder",
    "save_image_grid",
    "save_samples_picture",
    "save_scatter",
    "write_report",
]
