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
from matchers.contract import WUHAN_DISTRICTS
from matchers.reports.labels import KNOWN_DISTRICT, PENDING, UNASSIGNED_DISTRICT
from matchers.rules.engine import VIA_MEMBER

from .household import SOURCE_COLUMNS

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
       {district} AS district,
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
""".replace("{district}", KNOWN_DISTRICT.format(column="f.district"))

# The households' members per quarter, with the persons of flags outside any roll as one-person
# households.
WB_MEMBERS_SQL = """
CREATE OR REPLACE TABLE wb_members AS
SELECT m.*, p.name, p.id_number, p.sex, p.birth_date, p.district
FROM (
    SELECT quarter, household_key, person_id, relation, is_head, via
    FROM household_members
    UNION ALL
    SELECT DISTINCT quarter, household_key, person_id, NULL, TRUE, 'flag'
    FROM wb_flags WHERE household_key LIKE 'person:%'
) AS m
LEFT JOIN persons AS p USING (person_id)
ORDER BY m.household_key, m.quarter
"""

# Each household's flags: its own, and those of the persons on its roll in any quarter, sorted by
# household so that a household page reads one small range (DuckDB skips the other row groups by
# their min/max). `member_of` is the household a row is filed under.
WB_HOUSEHOLD_FLAGS_SQL = """
CREATE OR REPLACE TABLE wb_household_flags AS
SELECT DISTINCT * FROM (
    SELECT household_key AS member_of, * FROM wb_flags
    UNION ALL
    SELECT m.household_key AS member_of, f.*
    FROM (SELECT DISTINCT household_key, person_id FROM wb_members) AS m
    JOIN wb_flags AS f USING (person_id)
)
ORDER BY member_of, flag_id, quarter
"""

# The members' source rows per household and quarter, sorted the same way (source_records is not).
WB_SOURCE_SQL = """
CREATE OR REPLACE TABLE wb_source AS
SELECT m.household_key, s.quarter, {columns}
FROM (SELECT DISTINCT quarter, household_key, person_id FROM wb_members) AS m
JOIN source_records AS s ON s.quarter = m.quarter AND s.person_id = m.person_id
ORDER BY m.household_key, s.quarter, s.source, s.source_file, s.source_row
"""

WB_INDEXES_SQL = """
CREATE INDEX IF NOT EXISTS wb_flags_flag ON wb_flags (flag_id);
"""


def prepare(con: duckdb.DuckDBPyConnection) -> int:
    """Add the workbench tables to a writable copy of the warehouse; the number of flag rows."""
    install_sql_macros(con)
    con.execute(WB_FLAGS_SQL, {"unassigned": UNASSIGNED_DISTRICT, "districts": list(WUHAN_DISTRICTS),
                                "pending": PENDING, "member": VIA_MEMBER}).fetchall()
    con.execute(WB_MEMBERS_SQL).fetchall()
    con.execute(WB_HOUSEHOLD_FLAGS_SQL).fetchall()
    have = {r[0] for r in con.execute("DESCRIBE source_records").fetchall()}
    columns = ", ".join(f"s.{c}" if c in have else f"NULL AS {c}" for c in SOURCE_COLUMNS)
    con.execute(WB_SOURCE_SQL.format(columns=columns)).fetchall()
    for statement in duckdb.extract_statements(WB_INDEXES_SQL):
        con.execute(statement).fetchall()
    (n,) = con.execute("SELECT count(*) FROM wb_flags").fetchone()
    return int(n)
