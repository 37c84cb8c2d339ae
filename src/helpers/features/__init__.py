"""The analytic base table (ABT) and the survival frames, computed in DuckDB SQL.

This face is the package's only public import: ``from helpers import features``.
"""

from helpers.data.run_record import run_cache_dir
from helpers.features.abt import (
    ABT_ID_COLUMNS,
    ABT_LABEL_COLUMNS,
    ABT_SURVIVAL_COLUMNS,
    abt_columns,
    abt_feature_columns,
    build_abt,
    churn_events,
    churn_month_indexes,
    stored_transaction_months,
    warm_abt,
)
from helpers.features.cache import (
    cached_frame,
    prepare_run_cache,
    run_fingerprint,
    warm_frame,
)
from helpers.features.kinds import numpy_number, split_by_kind
from helpers.features.sampling import stratified_rows
from helpers.features.sql import (
    AbtWindow,
    abt_sql,
    cents_sql,
    churn_events_sql,
    date_literal,
    hard_churn_sql,
    money_avg_sql,
    money_sum_sql,
    month_index_sql,
    soft_churn_sql,
    soft_flags_sql,
    string_literal,
    trend_sql,
)
from helpers.features.survival_frames import (
    TIME_VARYING_COVARIATES,
    draining_customers,
    follow_up_end,
    survival_frame,
    time_varying_frame,
)
from helpers.paths import KEEP_CACHE_ENV, RUN_CACHE_ENV

__all__ = [
    "KEEP_CACHE_ENV",
    "RUN_CACHE_ENV",
    "cached_frame",
    "warm_frame",
    "prepare_run_cache",
    "run_cache_dir",
    "run_fingerprint",
    "stratified_rows",
    "numpy_number",
    "split_by_kind",
    "ABT_ID_COLUMNS",
    "ABT_LABEL_COLUMNS",
    "ABT_SURVIVAL_COLUMNS",
    "abt_columns",
    "abt_feature_columns",
    "build_abt",
    "warm_abt",
    "stored_transaction_months",
    "churn_events",
    "churn_month_indexes",
    "abt_sql",
    "AbtWindow",
    "cents_sql",
    "churn_events_sql",
    "money_avg_sql",
    "money_sum_sql",
    "date_literal",
    "hard_churn_sql",
    "month_index_sql",
    "soft_churn_sql",
    "soft_flags_sql",
    "string_literal",
    "trend_sql",
    "TIME_VARYING_COVARIATES",
    "draining_customers",
    "follow_up_end",
    "survival_frame",
    "time_varying_frame",
]
