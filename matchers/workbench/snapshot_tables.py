"""Tables the review workbench adds to its own copy of the published warehouse.

The workbench reads a private copy of the warehouse file (never the file a run writes). Right after
copying it, `prepare` adds one wide table the pages read: every flag of every quarter with the
person's name, masked ID, street and community and the latest decision, so that a page is one
indexed scan and never the join the district workbook makes. IDs are masked here, in SQL, with the
privacy module's macro; the full ID stays only for matching the last digits an officer types.
"""

from __future__ import annotations

import duckdb

from matchers.privacy import install_sql_macros
from matchers.reports.labels import PENDING, UNASSIGNED_DISTRICT
from matchers.rules.engine import VIA_MEMBER

# A person's street and community in a quarter: the first source row that names one (the same
# choice the district workbook makes).
WB_FLAGS_SQL = """
CREATE OR REPLACE TABLE wb_flags AS
WITH addr AS (
    SELECT quarter, person_id,
           arg_min(street, (source, source_file, source_row)) AS street,
           arg_min(community, (source, source_file, source_row)) AS community
    FROM source_records
    WHERE street IS NOT NULL
    GROUP BY quarter, person_id
),
home AS (  -- a person rule's household: the roll the person is listed on (assistance first)
    SELECT quarter, person_id, min(household_key) AS household_key
    FROM household_members
    WHERE via = $member
    GROUP BY quarter, person_id
)
SELECT f.quarter,
       f.flag_id,
       f.rule_code,
       coalesce(f.district, $unassigned) AS district,
       a.street,
       a.community,
       f.person_id,
       coalesce(f.household_key, h.household_key, 'person:' || f.person_id) AS household_key,
       p.name,
       p.id_number AS id_full,
       mask_id(p.id_number) AS id_masked,
       f.reason,
       CAST(f.evidence AS VARCHAR) AS evidence,
       f.first_seen,
       f.first_seen = f.quarter AS is_new,
       coalesce(l.decision, f.review_status, $pending) AS status,
       l.decided_at AS decided_at
FROM flags AS f
LEFT JOIN persons AS p ON p.person_id = f.person_id
LEFT JOIN addr AS a ON a.quarter = f.quarter AND a.person_id = f.person_id
LEFT JOIN home AS h ON h.quarter = f.quarter AND h.person_id = f.person_id
LEFT JOIN latest_reviews AS l ON l.flag_id = f.flag_id
ORDER BY f.quarter, district, f.rule_code, a.street, f.flag_id
"""

# The households' members per quarter, with the persons of flags outside any roll as one-person
# households.
WB_MEMBERS_SQL = """
CREATE OR REPLACE TABLE wb_members AS
SELECT quarter, household_key, person_id, relation, is_head, via
FROM household_members
UNION ALL
SELECT DISTINCT quarter, household_key, person_id, NULL, TRUE, 'flag'
FROM wb_flags WHERE household_key LIKE 'person:%'
"""

WB_INDEXES_SQL = """
CREATE INDEX IF NOT EXISTS wb_flags_flag ON wb_flags (flag_id);
CREATE INDEX IF NOT EXISTS wb_flags_household ON wb_flags (household_key);
CREATE INDEX IF NOT EXISTS wb_members_household ON wb_members (household_key);
CREATE INDEX IF NOT EXISTS wb_members_person ON wb_members (person_id);
CREATE INDEX IF NOT EXISTS wb_source_person ON source_records (person_id);
"""


def prepare(con: duckdb.DuckDBPyConnection) -> int:
    """Add the workbench tables to a writable copy of the warehouse; the number of flag rows."""
    install_sql_macros(con)
    con.execute(WB_FLAGS_SQL, {"unassigned": UNASSIGNED_DISTRICT, "pending": PENDING, "member": VIA_MEMBER}).fetchall()
    con.execute(WB_MEMBERS_SQL).fetchall()
    for statement in duckdb.extract_statements(WB_INDEXES_SQL):
        con.execute(statement).fetchall()
    (n,) = con.execute("SELECT count(*) FROM wb_flags").fetchone()
    return int(n)
