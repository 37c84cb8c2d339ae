"""Fishpond: tested helpers behind the existing-customer management notebooks.

Notebooks orchestrate and display; the logic lives here, one module per domain noun:
``paths``, ``config``, ``datasets``, ``schema``, ``features``, ``synth``, ``tiering``,
``survival``, ``propensity``, ``retention_roi``, ``plotting``, ``i18n``, ``privacy``,
``reporting``, ``runner``, ``course``, ``cli``.
"""

__version__ = "0.1.0"
