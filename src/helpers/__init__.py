"""Fishpond: the tested library behind the existing-customer management notebooks.

Notebooks orchestrate and display; the logic lives here, one subpackage per domain, each with
one face (its ``__init__`` and ``__all__``): ``from helpers import tiering``.

Layers, from the top down (``pyproject.toml`` ``[tool.importlinter]``, checked by the tests):

- ``cli``: the ``fishpond`` command.
- ``batch`` (runner, Papermill execution, HTML export), ``course`` (learner editions and
  self-checks), ``synth`` (the synthetic bank with known truth).
- ``summary`` (05) and ``retention`` (04; reads survival's customer value).
- ``overview`` (00), ``tiering`` (01), ``survival`` (02), ``propensity`` (03): independent.
- ``notebook``: the run context every notebook's setup cell starts.
- ``features``: the analytic base table and survival frames (DuckDB SQL).
- ``data``: dataset specs, readers, flat mode, validation.
- shared: ``config`` (products, tier ladder, churn definition), ``formatting`` (numbers,
  tables, KPI records, skipped steps), ``plotting``, ``parameters`` (the registry), ``i18n``,
  ``privacy``, ``provenance``, ``months``, ``files``, ``paths``.

YAML (catalogue, ladder, labels, parameter registry) and HTML templates are under
``resources/``.
"""

__version__ = "0.1.0"
