-- M05 住房安全未保障: a `housing` row graded C or D, renovation not 已改造 and aid_type 无, whose
-- head is in 低保 or 特困 or in a `poverty` household of any status. Names the housing row's head.
WITH poverty_member AS (
    SELECT DISTINCT m.person_id
    FROM r_members m
    JOIN r_households h USING (household_key)
    WHERE h.source = $src_poverty
)
SELECT 'M05' AS rule_code,
       r.person_id,
       NULL AS household_key,
       min(r.district) AS district,
       p.label || ' 住房安全等级' || min(r.safety_grade) || '级,'
           || coalesce(min(r.renovation), '改造状态不明') || ',未获住房救助,本人为'
           || CASE WHEN p.in_tekun THEN '特困人员'
                   WHEN p.in_dibao THEN '低保对象'
                   ELSE '建档立卡户成员' END AS reason,
       list_concat(list(r.ev ORDER BY r.ev), p.support_ev) AS evidence
FROM r_rec r
JOIN r_person p USING (person_id)
WHERE r.source = $src_housing
  AND list_contains($unsafe_grades, r.safety_grade)
  AND r.renovation IS DISTINCT FROM $renovated
  AND r.aid_type = $no_housing_aid
  AND (p.in_dibao OR p.in_tekun OR r.person_id IN (SELECT person_id FROM poverty_member))
GROUP BY r.person_id, p.label, p.in_dibao, p.in_tekun, p.support_ev
