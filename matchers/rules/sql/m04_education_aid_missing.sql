-- M04 教育资助未落实: a student with empty aid_programme whose household is in 低保 or 特困, or is
-- a `poverty` household 未脱贫/返贫 or monitored. A student's households are their own and their
-- guardian's (r_student_households). Names the student.
WITH students AS (
    SELECT person_id,
           min(district) AS district,
           min(school)   AS school,
           list(ev ORDER BY ev) AS ev
    FROM r_rec
    WHERE source = $src_education
    GROUP BY person_id
    HAVING bool_and(coalesce(trim(aid_programme), '') = '')
),
qualifying AS (
    SELECT m.person_id, h.household_key, h.household_id, h.head_ev,
           CASE WHEN h.in_tekun THEN '特困'
                WHEN h.in_support THEN '低保'
                WHEN list_contains($poverty_unlifted, h.poverty_status) THEN h.poverty_status
                ELSE '监测对象(' || h.monitor_type || ')' END AS why
    FROM r_student_households m
    JOIN r_household_facts h USING (household_key)
    WHERE h.in_support
       OR (h.source = $src_poverty
           AND (list_contains($poverty_unlifted, h.poverty_status) OR h.monitored))
)
SELECT 'M04' AS rule_code,
       s.person_id,
       NULL AS household_key,
       s.district,
       p.label || ' 就读于' || coalesce(s.school, '(学校未填)') || ',家庭为'
           || string_agg(DISTINCT q.why, '、' ORDER BY q.why) || '家庭(户编号'
           || string_agg(DISTINCT q.household_id, '、' ORDER BY q.household_id) || '),未享受任何教育资助' AS reason,
       list_concat(s.ev, list(q.head_ev ORDER BY q.head_ev)) AS evidence
FROM students s
JOIN qualifying q USING (person_id)
JOIN r_person p USING (person_id)
GROUP BY s.person_id, s.district, s.school, s.ev, p.label
