-- Schema v2: the rule run's record and the findings that went away.
-- Adds only; `reviews` is untouched.

-- The thresholds in force for every rule run: one row per setting, for the city default
-- (district NULL) and for each district with overrides (the values after override).
CREATE TABLE IF NOT EXISTS rule_config_log (
    quarter        VARCHAR NOT NULL,
    run_id         VARCHAR NOT NULL,
    recorded_at    TIMESTAMP NOT NULL,
    config_source  VARCHAR,
    config_sha256  VARCHAR,
    district       VARCHAR,
    setting        VARCHAR NOT NULL,
    value          DOUBLE NOT NULL
);

-- Findings of the previous published quarter that are gone in this one, per quarter. A view
-- over the published `flags`, so it always agrees with them (no second copy to publish).
-- last_seen: the quarter it was last flagged; review_status: the latest officer decision.
CREATE OR REPLACE VIEW resolved_flags AS
WITH published AS (
    SELECT DISTINCT quarter FROM source_records
    UNION
    SELECT DISTINCT quarter FROM flags
),
steps AS (
    SELECT quarter, lag(quarter) OVER (ORDER BY quarter) AS prev_quarter
    FROM published
),
decided AS (
    SELECT flag_id, decision
    FROM reviews
    QUALIFY row_number() OVER (
        PARTITION BY flag_id ORDER BY decided_at DESC, import_row DESC NULLS LAST, decision
    ) = 1
)
SELECT s.quarter,
       f.flag_id,
       f.rule_code,
       f.person_id,
       f.household_key,
       f.district,
       f.reason,
       f.evidence,
       f.first_seen,
       f.quarter AS last_seen,
       coalesce(d.decision, f.review_status) AS review_status
FROM steps s
JOIN flags f ON f.quarter = s.prev_quarter
LEFT JOIN decided d ON d.flag_id = f.flag_id
WHERE NOT EXISTS (
    SELECT 1 FROM flags c WHERE c.quarter = s.quarter AND c.flag_id = f.flag_id
);
