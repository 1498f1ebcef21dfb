-- Q02 高收费学校疑点: a student of a 民办 school with tuition ≥ high_fee_tuition whose household is
-- in 低保 or 特困. A student's households are their own and their guardian's
-- (r_student_households). Names the student.
WITH students AS (
    SELECT r.person_id,
           min(r.district) AS district,
           arg_max(r.school, r.tuition) AS school,
           max(r.tuition) AS tuition,
           list(r.ev ORDER BY r.ev) AS ev
    FROM r_rec r
    WHERE r.source = $src_education
      AND r.school_type = $private_school
      AND r.tuition IS NOT NULL
    GROUP BY r.person_id
),
supported AS (
    SELECT m.person_id,
           string_agg(DISTINCT h.household_id, '、' ORDER BY h.household_id) AS household_ids,
           bool_or(h.in_tekun) AS in_tekun,
           list(h.head_ev ORDER BY h.head_ev) AS ev
    FROM r_student_households m
    JOIN r_household_facts h USING (household_key)
    WHERE h.in_support
    GROUP BY m.person_id
)
SELECT 'Q02' AS rule_code,
       s.person_id,
       NULL AS household_key,
       s.district,
       p.label || ' 就读民办学校' || coalesce(s.school, '(学校未填)') || ',年学费' || yuan(s.tuition)
           || '元,达到高收费标准' || yuan(t.high_fee_tuition) || '元,而家庭为'
           || CASE WHEN h.in_tekun THEN '特困' ELSE '低保' END || '家庭(户编号' || h.household_ids || ')' AS reason,
       list_concat(s.ev, h.ev) AS evidence
FROM students s
JOIN supported h USING (person_id)
JOIN r_person p USING (person_id)
JOIN r_thresholds t ON t.district IS NOT DISTINCT FROM s.district
WHERE s.tuition >= t.high_fee_tuition
