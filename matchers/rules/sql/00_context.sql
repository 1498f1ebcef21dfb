-- The facts the rules share, for one quarter ($quarter), as temporary tables (RULES.md "Terms").
-- Category values and source keys are bound parameters (from matchers.contract), never typed here.

-- Amounts as an officer reads them: 1,234 or 1,234.50 yuan.
CREATE OR REPLACE TEMP MACRO yuan(x) AS
    CASE WHEN x IS NULL THEN '—'
         WHEN x = round(x) THEN format('{:,}', CAST(round(x) AS BIGINT))
         ELSE format('{:,.2f}', x) END;

CREATE OR REPLACE TEMP MACRO pct(x) AS printf('%.1f%%', 100 * x);

-- The stable id of a finding: same rule, person and household → same id in every run and quarter
-- (officers' reviews hang on it). md5 of 'rule|person|household', its first 16 hex characters
-- written with the letters a-p instead of 0-9a-f, so an id never holds a run of digits that a
-- privacy scan (or an officer) could take for an ID number.
CREATE OR REPLACE TEMP MACRO flag_id(rule_code, person_id, household_key) AS
    'F' || translate(left(md5(rule_code || '|' || person_id || '|' || coalesce(household_key, '')), 16),
                     '0123456789abcdef', 'abcdefghijklmnop');

-- mask_id(id) (4201**********123X) is installed by the engine from matchers.privacy.

-- The quarter's accepted rows, each with its provenance as one evidence item. Only the columns
-- the rules read (a rule that needs another column adds it here): the resolved rows have ~65
-- columns, most of them long text the rules never look at, and this table is held in memory.
-- Amounts are exact yuan and fen (DECIMAL): sums over members and settlements then come out the
-- same whatever order DuckDB's threads add them in, and a value on a threshold stays on it.
CREATE OR REPLACE TEMP TABLE r_rec AS
SELECT quarter, source, source_file, source_row, person_id, match_method, match_probability,
       name_norm, id_norm, id_kind, district,
       household_id, relation, category, status, status_date,
       poverty_status, monitor_type,
       CAST(income_per_capita AS DECIMAL(18, 2)) AS income_per_capita,
       CAST(income_prev AS DECIMAL(18, 2)) AS income_prev, health,
       grade, living_subsidy, nursing_subsidy,
       school, school_type, CAST(tuition AS DECIMAL(18, 2)) AS tuition, aid_programme,
       safety_grade, aid_type, renovation,
       CAST(out_of_pocket AS DECIMAL(18, 2)) AS out_of_pocket,
       {'source': source, 'source_file': source_file, 'source_row': source_row} AS ev
FROM work_source_records
WHERE quarter = $quarter
  -- a refresh recomputes only the persons in r_scope (matchers.rules.scope); a full run, everyone
  AND (NOT $scoped OR person_id IN (SELECT person_id FROM r_scope));

-- Every person, as a reason names them: 王秀英(4201**********1234).
CREATE OR REPLACE TEMP TABLE r_label AS
WITH seen AS (
    SELECT person_id,
           min(name_norm) AS row_name,
           min(id_norm)   AS row_id,
           min(district)  AS row_district
    FROM r_rec
    GROUP BY person_id
)
SELECT s.person_id,
       coalesce(p.name, s.row_name, '(无姓名)') || '(' || mask_id(coalesce(p.id_number, s.row_id)) || ')' AS label,
       coalesce(p.district, s.row_district) AS district
FROM seen s
LEFT JOIN work_persons p USING (person_id);

-- Household rows (assistance and poverty rolls), in roll order: the head first
-- (与户主关系 = 户主), else the member listed first.
CREATE OR REPLACE TEMP TABLE r_household_rows AS
SELECT source || ':' || household_id AS household_key,
       source, household_id, person_id, relation, district, ev,
       category, status, status_date,
       poverty_status, nullif(trim(monitor_type), '') AS monitor_type,
       income_per_capita, income_prev, health,
       row_number() OVER (
           PARTITION BY source, household_id
           ORDER BY (relation IS NOT DISTINCT FROM $head_relation) DESC, source_file, source_row
       ) AS listing
FROM r_rec
WHERE source IN ($src_assistance, $src_poverty)
  AND household_id IS NOT NULL;

CREATE OR REPLACE TEMP TABLE r_households AS
SELECT household_key,
       any_value(source)       AS source,
       any_value(household_id) AS household_id,
       max(person_id) FILTER (WHERE listing = 1) AS head_person_id,
       max(ev)        FILTER (WHERE listing = 1) AS head_ev,
       coalesce(max(district) FILTER (WHERE listing = 1), mode(district)) AS district,
       -- poverty roll
       coalesce(max(poverty_status) FILTER (WHERE listing = 1), mode(poverty_status)) AS poverty_status,
       coalesce(max(monitor_type) FILTER (WHERE listing = 1), max(monitor_type))       AS monitor_type,
       coalesce(max(income_per_capita) FILTER (WHERE listing = 1), max(income_per_capita)) AS income_per_capita,
       coalesce(max(income_prev) FILTER (WHERE listing = 1), max(income_prev))             AS income_prev,
       count(DISTINCT person_id) AS roll_members,
       -- assistance roll
       coalesce(bool_or(status = $status_active AND list_contains($dibao, category)), false) AS active_dibao,
       coalesce(bool_or(status = $status_active AND list_contains($tekun, category)), false) AS active_tekun,
       max(status_date) FILTER (WHERE status = $status_refused AND status_date > $window_start) AS refused_date,
       list(ev ORDER BY ev) FILTER (WHERE status = $status_refused AND status_date > $window_start) AS refused_ev
FROM r_household_rows
GROUP BY household_key;

-- A household's members: the persons resolved from its rows (its roll), each once, nobody else
-- (RULES.md "Household"). Every rule and household figure reads this.
CREATE OR REPLACE TEMP TABLE r_members AS
SELECT DISTINCT household_key, person_id
FROM r_household_rows;

-- A student's households: those the student is a member of, and those of the student's guardian
-- (work_household_members rows with via = $via_guardian). Only M04, Q02 and M06's members'
-- tuition read this.
CREATE OR REPLACE TEMP TABLE r_student_households AS
SELECT household_key, person_id FROM r_members
UNION
SELECT household_key, person_id
FROM work_household_members
WHERE quarter = $quarter
  AND via = $via_guardian
  AND household_key IN (SELECT household_key FROM r_households)
  AND (NOT $scoped OR person_id IN (SELECT person_id FROM r_scope));

-- Per person: severe disability, serious illness, 低保/特困 membership, medical burden, tuition.
CREATE OR REPLACE TEMP TABLE r_person AS
WITH disability AS (
    SELECT person_id,
           min(grade) AS grade,
           list(ev ORDER BY ev) FILTER (WHERE list_contains($severe_grades, grade)) AS severe_ev
    FROM r_rec
    WHERE source = $src_disability AND grade IS NOT NULL
    GROUP BY person_id
),
illness AS (
    SELECT person_id, list(ev ORDER BY ev) AS ill_ev
    FROM r_rec
    WHERE source = $src_poverty AND health = $serious_illness
    GROUP BY person_id
),
support AS (
    SELECT m.person_id,
           bool_or(h.active_dibao) AS in_dibao,
           bool_or(h.active_tekun) AS in_tekun,
           list(DISTINCT h.household_id ORDER BY h.household_id) FILTER (WHERE h.active_dibao OR h.active_tekun) AS support_households,
           list(h.head_ev ORDER BY h.head_ev) FILTER (WHERE h.active_dibao OR h.active_tekun) AS support_ev
    FROM r_members m
    JOIN r_households h USING (household_key)
    GROUP BY m.person_id
),
medical AS (
    SELECT person_id, sum(coalesce(out_of_pocket, 0)) AS burden, list(ev ORDER BY ev) AS medical_ev
    FROM r_rec
    WHERE source = $src_medical
    GROUP BY person_id
),
education AS (
    SELECT person_id, sum(coalesce(tuition, 0)) AS tuition, list(ev ORDER BY ev) AS education_ev
    FROM r_rec
    WHERE source = $src_education
    GROUP BY person_id
)
SELECT l.person_id, l.label, l.district,
       d.grade,
       coalesce(list_contains($severe_grades, d.grade), false) AS severe,
       coalesce(d.severe_ev, [])                                AS severe_ev,
       i.person_id IS NOT NULL                                  AS serious_ill,
       coalesce(i.ill_ev, [])                                   AS ill_ev,
       coalesce(s.in_dibao, false)                              AS in_dibao,
       coalesce(s.in_tekun, false)                              AS in_tekun,
       coalesce(s.support_households, [])                       AS support_households,
       coalesce(s.support_ev, [])                               AS support_ev,
       coalesce(m.burden, 0)                                    AS medical_burden,
       coalesce(m.medical_ev, [])                               AS medical_ev,
       coalesce(e.tuition, 0)                                   AS tuition,
       coalesce(e.education_ev, [])                             AS education_ev
FROM r_label l
LEFT JOIN disability d USING (person_id)
LEFT JOIN illness    i USING (person_id)
LEFT JOIN support    s USING (person_id)
LEFT JOIN medical    m USING (person_id)
LEFT JOIN education  e USING (person_id);

-- Per household: in 低保/特困 when any member is; medical burden over its members; members'
-- tuition over the students it is a household of (RULES.md "Members' tuition").
CREATE OR REPLACE TEMP TABLE r_household_facts AS
WITH tuition AS (
    SELECT s.household_key,
           sum(p.tuition) AS members_tuition,
           flatten(list(p.education_ev ORDER BY p.person_id) FILTER (WHERE p.tuition > 0)) AS education_ev
    FROM r_student_households s
    JOIN r_person p USING (person_id)
    GROUP BY s.household_key
),
agg AS (
    SELECT m.household_key,
           bool_or(p.in_dibao OR p.in_tekun) AS in_support,
           bool_or(p.in_tekun)               AS in_tekun,
           bool_or(p.severe)                 AS any_severe,
           bool_or(p.serious_ill)            AS any_ill,
           sum(p.medical_burden)             AS medical_burden,
           flatten(list(p.medical_ev ORDER BY p.person_id)) AS medical_ev,
           flatten(list(p.support_ev ORDER BY p.person_id)) AS support_ev,
           list(p.label || CASE WHEN p.severe THEN '残疾等级' || $grade_labels[p.grade] ELSE '' END
                        || CASE WHEN p.severe AND p.serious_ill THEN '且' ELSE '' END
                        || CASE WHEN p.serious_ill THEN '患有大病' ELSE '' END
                ORDER BY p.person_id) FILTER (WHERE p.severe OR p.serious_ill) AS hardship,
           flatten(list(list_concat(p.severe_ev, p.ill_ev) ORDER BY p.person_id)) AS hardship_ev
    FROM r_members m
    JOIN r_person p USING (person_id)
    GROUP BY m.household_key
)
SELECT h.*,
       hl.label AS head_label,
       coalesce(a.in_support, false)      AS in_support,
       coalesce(a.in_tekun, false)        AS in_tekun,
       coalesce(a.any_severe, false)      AS any_severe,
       coalesce(a.any_ill, false)         AS any_ill,
       coalesce(a.medical_burden, 0)      AS medical_burden,
       coalesce(t.members_tuition, 0)     AS members_tuition,
       coalesce(a.medical_ev, [])         AS medical_ev,
       coalesce(t.education_ev, [])       AS education_ev,
       coalesce(a.support_ev, [])         AS support_ev,
       coalesce(a.hardship, [])           AS hardship,
       coalesce(a.hardship_ev, [])        AS hardship_ev,
       h.income_per_capita * h.roll_members AS household_income,
       h.monitor_type IS NOT NULL         AS monitored
FROM r_households h
LEFT JOIN agg a USING (household_key)
LEFT JOIN tuition t USING (household_key)
LEFT JOIN r_label hl ON hl.person_id = h.head_person_id;
