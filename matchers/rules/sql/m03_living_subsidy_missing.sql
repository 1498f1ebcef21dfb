-- M03 困难残疾人生活补贴未落实: any grade of disability, in 低保 (not 特困), living_subsidy 否.
-- Names that person.
SELECT 'M03' AS rule_code,
       r.person_id,
       NULL AS household_key,
       min(r.district) AS district,
       p.label || ' 残疾等级' || $grade_labels[min(r.grade)] || ',为低保家庭(家庭编号'
           || array_to_string(p.support_households, '、') || ')成员,未享受困难残疾人生活补贴' AS reason,
       list_concat(list(r.ev ORDER BY r.ev), p.support_ev) AS evidence
FROM r_rec r
JOIN r_person p USING (person_id)
WHERE r.source = $src_disability
  AND r.grade IS NOT NULL
  AND p.in_dibao
  AND NOT p.in_tekun
GROUP BY r.person_id, p.label, p.support_households, p.support_ev
HAVING bool_or(r.living_subsidy = false)
   AND NOT coalesce(bool_or(r.living_subsidy), false)
