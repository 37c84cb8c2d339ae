"""Cross-sell propensity (交叉销售): product models, affinity, next best product, RM call lists.

This face is the package's only public import: ``from helpers import propensity``.
"""

from helpers.propensity.actions import (
    call_lists,
    feature_label,
    next_best_product,
    product_label,
    product_values,
    reasons_in_words,
)
from helpers.propensity.affinity import (
    also_hold,
    default_products,
    held_products,
    holding_matrix,
    penetration_by_tier,
    product_affinity,
)
from helpers.propensity.evaluation import (
    decile_table,
    gain_curve,
    holdout_metrics,
    reliability_table,
    top_k_capture,
)
from helpers.propensity.frames import (
    HELD_PREFIX,
    MODEL_NAMES,
    NON_FEATURE_COLUMNS,
    TOOK_PREFIX,
    CalibratedModel,
    choose_model,
    cross_validate_candidate,
    design_matrix,
    feature_columns,
    feature_owner,
    fit_calibrator,
    heavy_tailed_columns,
    make_estimator,
    propensity_frames,
    shift_month,
)
from helpers.propensity.models import (
    CrossSellModels,
)
from helpers.propensity.plots import (
    plot_affinity,
    plot_gain,
    plot_importance,
    plot_lift,
    plot_model_comparison,
    plot_next_best,
    plot_penetration,
    plot_reliability,
)

__all__ = [
    "call_lists",
    "feature_label",
    "next_best_product",
    "product_label",
    "product_values",
    "reasons_in_words",
    "also_hold",
    "default_products",
    "held_products",
    "holding_matrix",
    "penetration_by_tier",
    "product_affinity",
    "decile_table",
    "gain_curve",
    "holdout_metrics",
    "reliability_table",
    "top_k_capture",
    "HELD_PREFIX",
    "MODEL_NAMES",
    "NON_FEATURE_COLUMNS",
    "TOOK_PREFIX",
    "CalibratedModel",
    "choose_model",
    "cross_validate_candidate",
    "design_matrix",
    "feature_columns",
    "feature_owner",
    "fit_calibrator",
    "heavy_tailed_columns",
    "make_estimator",
    "propensity_frames",
    "shift_month",
    "CrossSellModels",
    "plot_affinity",
    "plot_gain",
    "plot_importance",
    "plot_lift",
    "plot_model_comparison",
    "plot_next_best",
    "plot_penetration",
    "plot_reliability",
]
