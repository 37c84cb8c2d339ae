"""The training course: learner and solution editions, exercise self-checks.

This face is the package's only public import: ``from helpers import course``.
"""

from helpers.course.build import (
    COURSE_TAGS,
    LANG_TAGS,
    build_course,
    cli_course_build,
    count_exercises,
    course_notebook,
)
from helpers.course.checks import (
    CheckResult,
    as_number,
    check,
    fraction_problem,
    is_number,
    say,
    share_problem,
    skip,
)
from helpers.course.overview import (
    check_biggest_gap,
    check_mean_to_median,
    check_top_tier_aum_share,
)
from helpers.course.propensity import (
    check_propensity_co_holding_lift,
    check_propensity_pipeline_product,
    check_propensity_top_decile_lift,
    check_propensity_top_share_capture,
)
from helpers.course.retention import (
    check_retention_claim_effect,
    check_retention_stop_budget,
    check_retention_sure_things,
    check_retention_visit_break_even,
)
from helpers.course.summary import (
    check_aum_at_risk_share,
    check_aum_per_customer,
    check_repeat_campaign,
)
from helpers.course.survival import (
    check_survival_entry_bias,
    check_survival_s36_gap,
    check_survival_soft_hard_aum,
    check_survival_top_tier_risk_share,
)
from helpers.course.tiering import (
    check_tiering_bridge_driver,
    check_tiering_downgrade_share,
    check_tiering_rm_customers,
    check_tiering_threshold_move,
)

__all__ = [
    "as_number",
    "check",
    "CheckResult",
    "fraction_problem",
    "is_number",
    "say",
    "share_problem",
    "skip",
    "COURSE_TAGS",
    "LANG_TAGS",
    "build_course",
    "cli_course_build",
    "count_exercises",
    "course_notebook",
    "check_biggest_gap",
    "check_mean_to_median",
    "check_top_tier_aum_share",
    "check_tiering_bridge_driver",
    "check_tiering_downgrade_share",
    "check_tiering_rm_customers",
    "check_tiering_threshold_move",
    "check_survival_entry_bias",
    "check_survival_s36_gap",
    "check_survival_soft_hard_aum",
    "check_survival_top_tier_risk_share",
    "check_propensity_co_holding_lift",
    "check_propensity_pipeline_product",
    "check_propensity_top_decile_lift",
    "check_propensity_top_share_capture",
    "check_retention_claim_effect",
    "check_retention_stop_budget",
    "check_retention_sure_things",
    "check_retention_visit_break_even",
    "check_aum_at_risk_share",
    "check_aum_per_customer",
    "check_repeat_campaign",
]
