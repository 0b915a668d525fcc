"""lambda-lab's Jupyter layer: the IPython extension, magics, widgets, Bokeh plots and
exercise checks.

Thin by design: every decision lives in :mod:`kernel_runtime`, which this package imports
and which never imports this package, ipywidgets or bokeh.
"""

__all__: list[str] = []
