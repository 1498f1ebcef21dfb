-- M02 重度残疾人护理补贴未落实: severe disability (一级/二级) and nursing_subsidy 否. Names that person.
SELECT 'M02' AS rule_code,
       r.person_id,
       NULL AS household_key,
       min(r.district) AS district,
       p.label || ' 残疾等级' || $grade_labels[min(r.grade)] || ',未享受重度残疾人护理补贴' AS reason,
       list(r.ev ORDER BY r.ev) AS evidence
FROM r_rec r
JOIN r_person p USING (person_id)
WHERE r.source = $src_disability
  AND list_contains($severe_grades, r.grade)
GROUP BY r.person_id, p.label
HAVING bool_or(r.nursing_subsidy = false)
   AND NOT coalesce(bool_or(r.nursing_subsidy), false)
