-- One definition of "the latest decision on a flag", used by flags.review_status, the resolved
-- flags, the district workbooks and the review import (they had four copies with two different
-- tie-breaks). Latest = the newest decided_at; on a tie, the row recorded last (reviews is
-- append-only, so rowid is the order of recording).
CREATE OR REPLACE VIEW latest_reviews AS
SELECT flag_id, decision, note, reviewer, decided_at
FROM reviews
QUALIFY row_number() OVER (PARTITION BY flag_id ORDER BY decided_at DESC, rowid DESC) = 1;

-- resolved_flags (migration 002) now reads the latest decision from that view.
CREATE OR REPLACE VIEW resolved_flags AS
WITH published AS (
    SELECT DISTINCT quarter FROM source_records
    UNION
    SELECT DISTINCT quarter FROM flags
),
steps AS (
    SELECT quarter, lag(quarter) OVER (ORDER BY quarter) AS prev_quarter
    FROM published
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
LEFT JOIN latest_reviews d ON d.flag_id = f.flag_id
WHERE NOT EXISTS (
    SELECT 1 FROM flags c WHERE c.quarter = s.quarter AND c.flag_id = f.flag_id
);
