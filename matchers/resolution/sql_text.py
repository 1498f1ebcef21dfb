"""The SQL of a resolution run, as named constants (parameters bound, never formatted in)."""

# res_rows: the quarter's staged rows with their rid. Only (rid, rowid) is kept; res_rows is a view
# that fetches, per statement, just the columns that statement reads (a copy of the wide rows
# cost as much memory as the whole quarter). rid is numbered on the keys alone.
ROWS = """
CREATE OR REPLACE TEMP TABLE res_row_keys AS
SELECT row_number() OVER (ORDER BY source, source_file, source_row) - 1 AS rid, rowid AS row_key
FROM stg_records
WHERE quarter = ?
ORDER BY rid
"""

ROWS_VIEW = """
CREATE OR REPLACE TEMP VIEW res_rows AS
SELECT k.rid, s.*
FROM res_row_keys k JOIN stg_records s ON s.rowid = k.row_key
"""

# Earlier persons (published master index) are anchors: an ID-less person keeps its person_id by
# linking to its anchor; a valid ID keeps the person_id it had.
ANCHORS = """
CREATE OR REPLACE TEMP TABLE res_anchors AS
SELECT person_id, id_number, name, name_key, name_pinyin, surname_pinyin, sex, birth_date, district,
       first_quarter, last_quarter,
       CASE WHEN id_number IS NOT NULL THEN 'I:' || id_number ELSE 'P:' || person_id END AS node_key
FROM persons
"""

NODES = """
CREATE OR REPLACE TEMP TABLE res_nodes AS
SELECT row_number() OVER (ORDER BY node_key) - 1 AS node, node_key,
       node_key LIKE 'I:%' AS valid
FROM (
    SELECT CASE WHEN id_norm IS NOT NULL THEN 'I:' || id_norm ELSE 'R:' || rid END AS node_key
    FROM res_rows
    UNION
    SELECT node_key FROM res_anchors
)
"""

ROW_NODES = """
CREATE OR REPLACE TEMP TABLE res_row_nodes AS
SELECT r.rid, n.node
FROM res_rows r
JOIN res_nodes n
  ON n.node_key = CASE WHEN r.id_norm IS NOT NULL THEN 'I:' || r.id_norm ELSE 'R:' || r.rid END
"""

# Every illness a node has settled this quarter (its medical rows): the diagnosis comparison looks
# at the other side's whole node, not only the profile the pair happens to hold (spec.DIAGNOSIS).
# res_node_meds says whether a node has settled anything this quarter, known only for a person by
# valid ID with rows this quarter (all their rows are there) and for a settlement row itself: a
# lone row without a valid ID from another roll says nothing about its person's settlements.
# Over res_node_rows(node, source, diagnosis): every row of the quarter on its node (NODE_ROWS here;
# an incremental refresh adds its unchanged rows).
NODE_ROWS = """
CREATE OR REPLACE TEMP VIEW res_node_rows AS
SELECT rn.node, r.source, r.diagnosis FROM res_rows r JOIN res_row_nodes rn USING (rid)
"""

NODE_DIAGNOSES = """
CREATE OR REPLACE TEMP TABLE res_node_diag AS
SELECT DISTINCT node, diagnosis FROM res_node_rows
WHERE source = 'medical' AND diagnosis IS NOT NULL;

CREATE OR REPLACE TEMP TABLE res_node_meds AS
SELECT r.node, bool_or(r.source = 'medical') AS meds
FROM res_node_rows r JOIN res_nodes n USING (node)
WHERE n.valid OR r.source = 'medical'
GROUP BY r.node;
"""

def _in(alias: str, column: str) -> str:
    return f"{alias}.{column}" if alias else column


def row_id17(alias: str = "") -> str:
    """SQL: the first 17 digits a row's ID shows (a valid ID's, or a bad check digit's 17)."""
    return (
        f"CASE WHEN {_in(alias, 'id_norm')} IS NOT NULL THEN substr({_in(alias, 'id_norm')}, 1, 17)"
        f" WHEN {_in(alias, 'id_kind')} = 'bad_check' AND length({_in(alias, 'id_evidence')}) = 17"
        f" THEN {_in(alias, 'id_evidence')} END"
    )


def row_id_prefix(alias: str = "") -> str:
    """SQL: the digits an Excel-truncated ID kept (6 or more), for a row without a valid ID."""
    return (
        f"CASE WHEN {_in(alias, 'id_norm')} IS NULL AND {_in(alias, 'id_kind')} = 'truncated'"
        f" AND length({_in(alias, 'id_evidence')}) >= 6 THEN {_in(alias, 'id_evidence')} END"
    )


def row_birth(alias: str = "") -> str:
    """SQL: a row's birth date (from its valid ID, else from an ID with a bad check digit)."""
    return (
        f"coalesce({_in(alias, 'id_birth_date')}, CASE WHEN {_in(alias, 'id_kind')} = 'bad_check'"
        f" THEN try_strptime(substr({_in(alias, 'id_evidence')}, 7, 8), '%Y%m%d')::DATE END)"
    )


def row_profile(alias: str) -> str:
    """SQL: a row's profile columns (res_profiles after node and unresolved), from the row `alias`."""
    a = alias
    return f"""{row_id17(a)} AS id17,
               {row_id_prefix(a)} AS id_prefix,
               {a}.name_norm, {a}.name_key, {a}.name_pinyin, {a}.surname_pinyin,
               coalesce({a}.name_wildcard, false) AS name_wildcard,
               {row_birth(a)} AS birth,
               coalesce({a}.sex, {a}.id_sex) AS sex,
               {a}.district, nullif(trim({a}.street), '') AS street, nullif(trim({a}.community), '') AS community,
               CASE WHEN {a}.source = 'medical' THEN {a}.diagnosis END AS diagnosis"""


def profiles_sql(more: str = "") -> str:
    """res_profiles: a profile per distinct (node, attributes) of the rows and the anchors; `more`:
    further branches (`UNION ALL SELECT node, unresolved, <profile columns> ...`)."""
    return f"""
CREATE OR REPLACE TEMP TABLE res_profiles AS
SELECT row_number() OVER (ORDER BY node, name_norm, district, id17, id_prefix, birth, sex, street, community) - 1 AS pid, *
FROM (
    SELECT DISTINCT * FROM (
        SELECT rn.node,
               r.id_norm IS NULL AS unresolved,
               {row_profile("r")}
        FROM res_rows r JOIN res_row_nodes rn USING (rid)
        UNION ALL
        SELECT n.node, false, substr(a.id_number, 1, 17), NULL,
               a.name, a.name_key, a.name_pinyin, a.surname_pinyin,
               coalesce(a.name_key LIKE '%?%', false), a.birth_date, a.sex, a.district, NULL, NULL, NULL
        FROM res_anchors a JOIN res_nodes n USING (node_key){more}
    )
)
"""


PROFILES = profiles_sql()

# Term frequencies of names: the share of nodes (persons by valid ID, earlier persons, rows without
# a valid ID) carrying the value, so that one person's many records do not make a name common; the
# row's own node is not counted (a name nobody else carries is as rare as it gets).
# Run once and read as a stream of Arrow record batches (the joins are built once, not per batch).
def pair_attributes(pairs: str = "res_pairs") -> str:
    """The attributes query over the candidate pairs of table `pairs` (training reads a sample)."""
    return _PAIR_ATTRIBUTES.format(pairs=pairs)


_PAIR_ATTRIBUTES = """
WITH n AS (SELECT count(DISTINCT node)::DOUBLE AS total FROM res_profiles),
tf_key AS (
    SELECT name_key, greatest(count(DISTINCT node) - 1, 1) / any_value(n.total) AS tf
    FROM res_profiles, n GROUP BY name_key
),
tf_pinyin AS (
    SELECT name_pinyin, greatest(count(DISTINCT node) - 1, 1) / any_value(n.total) AS tf
    FROM res_profiles, n GROUP BY name_pinyin
)
SELECT p.pid_l, p.pid_r, l.node AS node_l, r.node AS node_r,
       l.id17 AS id17_l, r.id17 AS id17_r, l.id_prefix AS id_prefix_l, r.id_prefix AS id_prefix_r,
       l.name_norm AS name_norm_l, r.name_norm AS name_norm_r,
       l.name_key AS name_key_l, r.name_key AS name_key_r,
       l.name_pinyin AS name_pinyin_l, r.name_pinyin AS name_pinyin_r,
       l.birth AS birth_l, r.birth AS birth_r, l.sex AS sex_l, r.sex AS sex_r,
       l.district AS district_l, r.district AS district_r,
       l.street AS street_l, r.street AS street_r, l.community AS community_l, r.community AS community_r,
       l.diagnosis AS diagnosis_l, r.diagnosis AS diagnosis_r,
       dl.node IS NOT NULL AS diag_in_r, dr.node IS NOT NULL AS diag_in_l,
       ml.meds AS meds_l, mr.meds AS meds_r,
       h.hh_context, h.hh_related, h.hh_same_roll, h.hh_shared,
       tk.tf AS tf_name_key, tp.tf AS tf_name_pinyin
FROM {pairs} p
JOIN res_profiles l ON l.pid = p.pid_l
JOIN res_profiles r ON r.pid = p.pid_r
LEFT JOIN res_pair_household h ON h.node_l = l.node AND h.node_r = r.node
LEFT JOIN res_node_diag dl ON dl.node = r.node AND dl.diagnosis = l.diagnosis
LEFT JOIN res_node_diag dr ON dr.node = l.node AND dr.diagnosis = r.diagnosis
LEFT JOIN res_node_meds ml ON ml.node = l.node
LEFT JOIN res_node_meds mr ON mr.node = r.node
LEFT JOIN tf_key tk ON tk.name_key = l.name_key
LEFT JOIN tf_pinyin tp ON tp.name_pinyin = l.name_pinyin
"""

PAIR_ATTRIBUTES = pair_attributes()

PROFILE_TABLE = """
SELECT pid, node, id17, id_prefix, name_norm, name_key, name_pinyin, birth, sex, district, street, community,
       diagnosis
FROM res_profiles
"""

# Facts per cluster, for choosing its person_id and its person row.
CLUSTER_FACTS = """
CREATE OR REPLACE TEMP TABLE res_cluster_facts AS
WITH node_facts AS (
    SELECT l.label, n.node_key, a.person_id AS anchor_pid
    FROM res_nodes n
    JOIN res_labels l USING (node)
    LEFT JOIN res_anchors a USING (node_key)
),
prev AS (  -- the person each row had in the previous run of this quarter
    SELECT l.label, s.person_id, count(*) AS n
    FROM res_rows r
    JOIN res_row_nodes rn USING (rid)
    JOIN res_labels l USING (node)
    JOIN source_records s
      ON s.quarter = r.quarter AND s.source = r.source
     AND s.source_file = r.source_file AND s.source_row = r.source_row
    WHERE s.person_id IS NOT NULL
    GROUP BY l.label, s.person_id
),
first_row AS (
    SELECT l.label, min(r.rid) AS rid, count(*) AS n_rows
    FROM res_rows r JOIN res_row_nodes rn USING (rid) JOIN res_labels l USING (node)
    GROUP BY l.label
)
SELECT f.label,
       max(substr(f.node_key, 3)) FILTER (WHERE f.node_key LIKE 'I:%') AS valid_id,
       min(f.anchor_pid) FILTER (WHERE f.node_key LIKE 'I:%') AS id_anchor_pid,
       min(f.anchor_pid) FILTER (WHERE f.node_key LIKE 'P:%') AS idless_anchor_pid,
       any_value(p.prev_pid) AS prev_pid,
       any_value(fr.n_rows) AS n_rows,
       any_value(r.quarter) AS first_quarter_key,
       any_value(r.source) AS first_source,
       any_value(r.source_file) AS first_source_file,
       any_value(r.source_row) AS first_source_row
FROM node_facts f
LEFT JOIN (SELECT label, arg_max(person_id, n) AS prev_pid FROM prev GROUP BY label) p USING (label)
LEFT JOIN first_row fr USING (label)
LEFT JOIN res_rows r ON r.rid = fr.rid
GROUP BY f.label
"""

# Every row of res_rows with its person (res_labels → res_cluster_pid), match_method, probability
# and explanation (its strongest kept link, res_best); labels from res_methods
# (resolve.stage_row_methods). The full run makes it a view, the incremental refresh a table.
ROW_METHODS = """
SELECT r.* EXCLUDE (rid), c.person_id,
       CASE WHEN r.id_norm IS NOT NULL AND r.id_issue IS NULL THEN m.exact
            WHEN r.id_norm IS NOT NULL THEN m.repaired
            WHEN b.node IS NULL THEN m.new_person
            WHEN b.match_probability >= m.auto THEN m.prob
            ELSE m.review END AS match_method,
       CASE WHEN r.id_norm IS NOT NULL THEN 1.0 ELSE b.match_probability END AS match_probability,
       CASE WHEN r.id_norm IS NOT NULL AND r.id_issue IS NULL THEN m.exact
            WHEN r.id_norm IS NOT NULL THEN m.repaired || ' (' || r.id_issue || ')'
            WHEN b.node IS NULL THEN '未找到足够相似的已知人员, ' || m.new_person
            ELSE b.match_explanation END AS match_explanation
FROM res_rows r
CROSS JOIN res_methods m
JOIN res_row_nodes rn USING (rid)
JOIN res_labels l USING (node)
JOIN res_cluster_pid c USING (label)
LEFT JOIN res_best b ON b.node = rn.node AND r.id_norm IS NULL
"""

# Shared by PERSONS here and the incremental refresh's (matchers/resolution/incremental.py): a
# person's attributes from its rows of the quarter (row_people: person_id, rid, birth, the staged
# columns), and the index row from those and the earlier person (kept_anchors) it continues.
PERSON_FROM_ROWS = """
from_rows AS (
    SELECT person_id,
           max(id_norm) AS id_number,
           mode(name_norm ORDER BY id_norm IS NULL, rid) AS name,
           mode(name_key ORDER BY id_norm IS NULL, rid) AS name_key,
           mode(name_pinyin ORDER BY id_norm IS NULL, rid) AS name_pinyin,
           mode(surname_pinyin ORDER BY id_norm IS NULL, rid) AS surname_pinyin,
           coalesce(max(id_sex) FILTER (WHERE id_norm IS NOT NULL), mode(coalesce(sex, id_sex) ORDER BY rid)) AS sex,
           coalesce(max(id_birth_date) FILTER (WHERE id_norm IS NOT NULL), mode(birth ORDER BY rid)) AS birth_date,
           mode(district ORDER BY id_norm IS NULL, rid) AS district
    FROM row_people
    GROUP BY person_id
),
"""

PERSON_INDEX_ROW = """
SELECT coalesce(r.person_id, a.person_id) AS person_id,
       coalesce(r.id_number, a.id_number) AS id_number,
       coalesce(r.name, a.name) AS name,
       coalesce(r.sex, a.sex) AS sex,
       coalesce(r.birth_date, a.birth_date) AS birth_date,
       coalesce(r.district, a.district) AS district,
       coalesce(r.name_key, a.name_key) AS name_key,
       coalesce(r.name_pinyin, a.name_pinyin) AS name_pinyin,
       coalesce(r.surname_pinyin, a.surname_pinyin) AS surname_pinyin,
       CASE WHEN r.person_id IS NULL THEN a.first_quarter
            ELSE least(coalesce(a.first_quarter, $quarter), $quarter) END AS first_quarter,
       CASE WHEN r.person_id IS NULL THEN a.last_quarter
            ELSE greatest(coalesce(a.last_quarter, $quarter), $quarter) END AS last_quarter
FROM from_rows r
FULL OUTER JOIN kept_anchors a USING (person_id)
"""

PERSONS = """
WITH row_people AS (
    SELECT c.person_id, r.*, """ + row_birth("r") + """ AS birth
    FROM res_rows r
    JOIN res_row_nodes rn USING (rid)
    JOIN res_labels l USING (node)
    JOIN res_cluster_pid c USING (label)
),
""" + PERSON_FROM_ROWS + """from_anchors AS (
    SELECT c.person_id,
           min(a.first_quarter) AS first_quarter,
           max(a.last_quarter) AS last_quarter,
           arg_min(a.id_number, a.id_number IS NULL) AS id_number,
           arg_min(a.name, a.id_number IS NULL) AS name,
           arg_min(a.sex, a.id_number IS NULL) AS sex,
           arg_min(a.birth_date, a.id_number IS NULL) AS birth_date,
           arg_min(a.district, a.id_number IS NULL) AS district,
           arg_min(a.name_key, a.id_number IS NULL) AS name_key,
           arg_min(a.name_pinyin, a.id_number IS NULL) AS name_pinyin,
           arg_min(a.surname_pinyin, a.id_number IS NULL) AS surname_pinyin,
           bool_or(a.person_id IN (SELECT person_id FROM source_records WHERE quarter <> $quarter))
               AS named_elsewhere
    FROM res_anchors a
    JOIN res_nodes n USING (node_key)
    JOIN res_labels l USING (node)
    JOIN res_cluster_pid c USING (label)
    GROUP BY c.person_id
),
kept_anchors AS (  -- earlier persons with no row this quarter stay while another quarter names them
    SELECT * FROM from_anchors a
    WHERE a.named_elsewhere OR a.person_id IN (SELECT person_id FROM from_rows)
)
""" + PERSON_INDEX_ROW

HOUSEHOLD_MEMBERS = """
WITH members AS (
    SELECT quarter, source || ':' || household_id AS household_key, source, household_id,
           person_id, relation, source_file, source_row
    FROM work_source_records
    WHERE quarter = $quarter AND source IN ('assistance', 'poverty') AND household_id IS NOT NULL
),
heads AS (  -- 户主, or the first listed member when the roll names no head
    SELECT household_key,
           coalesce(min(person_id) FILTER (WHERE relation = $head),
                    arg_min(person_id, (source_file, source_row))) AS head_pid
    FROM members GROUP BY household_key
),
member_rows AS (
    SELECT m.quarter, m.household_key, m.source, m.household_id, m.person_id,
           arg_min(m.relation, (m.source_file, m.source_row)) AS relation,
           bool_or(m.person_id = h.head_pid) AS is_head, 'member' AS via
    FROM members m JOIN heads h USING (household_key)
    GROUP BY ALL
),
students AS (
    SELECT person_id, guardian_id_norm
    FROM work_source_records
    WHERE quarter = $quarter AND source = 'education' AND guardian_id_norm IS NOT NULL
),
guardian_by_id AS (
    SELECT DISTINCT s.person_id AS student_pid, w.person_id AS guardian_pid
    FROM students s
    JOIN work_source_records w ON w.quarter = $quarter AND w.id_norm = s.guardian_id_norm
),
guardians AS (  -- by the guardian's valid ID, else as resolution.guardians found it (res_guardian_links)
    SELECT student_pid, guardian_pid FROM guardian_by_id
    UNION
    SELECT student_pid, guardian_pid FROM res_guardian_links
),
guardian_rows AS (
    SELECT DISTINCT mr.quarter, mr.household_key, mr.source, mr.household_id,
           g.student_pid AS person_id, NULL AS relation, false AS is_head, 'guardian' AS via
    FROM guardians g
    JOIN member_rows mr ON mr.person_id = g.guardian_pid
    WHERE NOT EXISTS (
        SELECT 1 FROM member_rows x
        WHERE x.household_key = mr.household_key AND x.person_id = g.student_pid
    )
)
SELECT quarter, household_key, source, household_id, person_id, relation, is_head, via FROM member_rows
UNION ALL
SELECT quarter, household_key, source, household_id, person_id, relation, is_head, via FROM guardian_rows
"""

# Stage 1 pairs (rows sharing a valid ID: known matches), a sample, with the ID comparison left
# out (null) so that only name, birth date, sex and district are measured; the diagnosis too (its m
# comes from DIAGNOSIS_LABELLED).
LABELLED_PAIRS = """
SELECT NULL::VARCHAR AS id17_l, NULL::VARCHAR AS id17_r,
       NULL::VARCHAR AS id_prefix_l, NULL::VARCHAR AS id_prefix_r,
       a.name_norm AS name_norm_l, b.name_norm AS name_norm_r,
       a.name_key AS name_key_l, b.name_key AS name_key_r,
       a.name_pinyin AS name_pinyin_l, b.name_pinyin AS name_pinyin_r,
       a.id_birth_date AS birth_l, b.id_birth_date AS birth_r,
       a.sex AS sex_l, b.sex AS sex_r,
       a.district AS district_l, b.district AS district_r,
       nullif(trim(a.street), '') AS street_l, nullif(trim(b.street), '') AS street_r,
       nullif(trim(a.community), '') AS community_l, nullif(trim(b.community), '') AS community_r,
       NULL::VARCHAR AS diagnosis_l, NULL::VARCHAR AS diagnosis_r,
       NULL::BOOLEAN AS diag_in_l, NULL::BOOLEAN AS diag_in_r, NULL::BOOLEAN AS meds_l, NULL::BOOLEAN AS meds_r,
       (a.rid IN (SELECT rid FROM res_ctx) AND b.rid IN (SELECT rid FROM res_ctx)) AS hh_context,
       false AS hh_related, false AS hh_same_roll,
       (SELECT count(DISTINCT x.other) FROM res_ctx x JOIN res_ctx y ON y.other = x.other AND y.via <> x.via
        WHERE x.rid = a.rid AND y.rid = b.rid) AS hh_shared
FROM (
    SELECT a.rid AS rid_a, b.rid AS rid_b
    FROM res_rows a
    JOIN res_rows b ON a.id_norm = b.id_norm AND a.rid < b.rid
    ORDER BY hash(a.rid, b.rid)
    LIMIT $n
) s
JOIN res_rows a ON a.rid = s.rid_a
JOIN res_rows b ON b.rid = s.rid_b
"""

# m of the diagnosis comparison (spec.DIAGNOSIS): every settlement row with a valid ID whose person
# has other rows this quarter, against that person's other settlements. One vote per row, not per
# pair (the pair sample would let a person with ten settlements outvote ten with one).
DIAGNOSIS_LABELLED = """
SELECT CASE WHEN EXISTS (SELECT 1 FROM res_rows x WHERE x.id_norm = a.id_norm AND x.rid <> a.rid
                         AND x.source = 'medical' AND x.diagnosis = a.diagnosis) THEN 'exact'
            WHEN EXISTS (SELECT 1 FROM res_rows x WHERE x.id_norm = a.id_norm AND x.rid <> a.rid
                         AND x.source = 'medical') THEN 'else'
            ELSE 'none' END AS level
FROM res_rows a
WHERE a.source = 'medical' AND a.id_norm IS NOT NULL AND a.diagnosis IS NOT NULL
  AND EXISTS (SELECT 1 FROM res_rows x WHERE x.id_norm = a.id_norm AND x.rid <> a.rid)
"""

# The share of records whose person has other records (among rows with a valid ID): how often a
# row without a valid ID has a node of its own person to link to.
MATCHES_PER_RECORD = """
SELECT coalesce(sum(k) FILTER (WHERE k > 1)::DOUBLE / nullif(sum(k), 0), 0)
FROM (SELECT count(*) AS k FROM res_rows WHERE id_norm IS NOT NULL GROUP BY id_norm)
"""

N_NODES = "SELECT count(*) FROM res_nodes"

# Household context of every node (see spec.HOUSEHOLD): (rid, node, other, via, other_relation) —
# `other` a node with a valid ID met through `via` (a roll of this quarter, a student's guardian, a
# household of an earlier quarter in the published index); rid is the row it comes from (NULL: the
# node's); other_relation: `other` is listed with another relation to the head than the row, or is
# the row's guardian (certainly another person).
def context_sql(more_households: str = "", more_guardians: str = "", paired_only: bool = False) -> str:
    """res_ctx (see CONTEXT) from res_rows; `more_households` / `more_guardians`: further branches
    of the `hh` (rid, node, relation, via) and `guardian` (rid, student, guardian, via) lists;
    `paired_only`: only the context of the nodes in res_paired_nodes (what PAIR_HOUSEHOLD reads)."""

    def only(node: str) -> str:
        return f"\nWHERE {node} IN (SELECT node FROM res_paired_nodes)" if paired_only else ""

    return f"""
CREATE OR REPLACE TEMP TABLE res_ctx AS
WITH hh AS (
    SELECT r.rid, rn.node, r.relation, r.quarter || ':' || r.source || ':' || r.household_id AS via
    FROM res_rows r JOIN res_row_nodes rn USING (rid)
    WHERE r.household_id IS NOT NULL{more_households}
),
guardian AS (
    SELECT r.rid, rn.node AS student, n.node AS guardian, 'G:' || r.rid AS via
    FROM res_rows r
    JOIN res_row_nodes rn USING (rid)
    JOIN res_nodes n ON n.node_key = 'I:' || r.guardian_id_norm
    WHERE r.guardian_id_norm IS NOT NULL AND n.node <> rn.node{more_guardians}
),
earlier AS (
    SELECT h.quarter || ':' || h.household_key AS via, n.node
    FROM household_members h
    JOIN res_anchors a ON a.person_id = h.person_id
    JOIN res_nodes n ON n.node_key = a.node_key
    WHERE h.quarter <> $quarter
)
SELECT a.rid, a.node, b.node AS other, a.via,
       coalesce(a.relation <> b.relation, false) AS other_relation
FROM hh a
JOIN hh b ON b.via = a.via AND b.node <> a.node
JOIN res_nodes n ON n.node = b.node AND n.valid{only("a.node")}
UNION
SELECT rid, student, guardian, via, true FROM guardian{only("student")}
UNION
SELECT NULL, g.guardian, g.student, g.via, true FROM guardian g JOIN res_nodes n ON n.node = g.student AND n.valid{only("g.guardian")}
UNION
SELECT NULL, a.node, b.node, a.via, false
FROM earlier a
JOIN earlier b ON b.via = a.via AND b.node <> a.node
JOIN res_nodes n ON n.node = b.node AND n.valid{only("a.node")}
"""


CONTEXT = context_sql()

# The household comparison's inputs per node pair of res_node_pairs(node_l, node_r), kept only for
# the pairs where both sides have a context (elsewhere the comparison is null).
PAIR_HOUSEHOLD = """
CREATE OR REPLACE TEMP TABLE res_pair_household AS
WITH has AS (SELECT DISTINCT node FROM res_ctx),
pairs AS (
    SELECT node_l, node_r FROM res_node_pairs
    WHERE node_l IN (SELECT node FROM has) AND node_r IN (SELECT node FROM has)
),
shared AS (
    SELECT p.node_l, p.node_r, count(DISTINCT a.other) AS n
    FROM pairs p
    JOIN res_ctx a ON a.node = p.node_l
    JOIN res_ctx b ON b.node = p.node_r AND b.other = a.other AND b.via <> a.via
    WHERE a.other <> p.node_l AND a.other <> p.node_r
    GROUP BY ALL
),
listed AS (
    SELECT p.node_l, p.node_r, a.other_relation FROM pairs p
    JOIN res_ctx a ON a.node = p.node_l AND a.other = p.node_r
    UNION ALL
    SELECT p.node_l, p.node_r, a.other_relation FROM pairs p
    JOIN res_ctx a ON a.node = p.node_r AND a.other = p.node_l
),
related AS (
    SELECT node_l, node_r, bool_or(other_relation) AS other_relation FROM listed GROUP BY ALL
)
SELECT p.node_l, p.node_r, true AS hh_context,
       coalesce(r.other_relation, false) AS hh_related,
       r.node_l IS NOT NULL AND NOT r.other_relation AS hh_same_roll,
       coalesce(s.n, 0) AS hh_shared
FROM pairs p
LEFT JOIN shared s USING (node_l, node_r)
LEFT JOIN related r USING (node_l, node_r)
"""

NODE_PAIRS = """
CREATE OR REPLACE TEMP TABLE res_node_pairs AS
SELECT DISTINCT l.node AS node_l, r.node AS node_r
FROM res_pairs p JOIN res_profiles l ON l.pid = p.pid_l JOIN res_profiles r ON r.pid = p.pid_r
"""
