-- M01 按人施保未落实: a member of a `poverty` household 未脱贫 or 返贫, with severe disability or
-- serious illness, in neither 低保 nor 特困. Names that member.
WITH qualifying AS (
    SELECT m.person_id, h.household_id, h.poverty_status, h.district, h.head_ev
    FROM r_members m
    JOIN r_household_facts h USING (household_key)
    WHERE h.source = $src_poverty
      AND list_contains($poverty_unlifted, h.poverty_status)
)
SELECT 'M01' AS rule_code,
       p.person_id,
       NULL AS household_key,
       coalesce(p.district, min(q.district)) AS district,
       p.label || ' 所在建档立卡户(户编号' || string_agg(DISTINCT q.household_id, '、' ORDER BY q.household_id)
           || ')为' || min(q.poverty_status) || ',本人'
           || CASE WHEN p.severe THEN '残疾等级' || $grade_labels[p.grade] ELSE '' END
           || CASE WHEN p.severe AND p.serious_ill THEN '且' ELSE '' END
           || CASE WHEN p.serious_ill THEN '患有大病' ELSE '' END
           || ',未纳入低保或特困供养' AS reason,
       list_concat(list(q.head_ev ORDER BY q.head_ev), p.severe_ev, p.ill_ev) AS evidence
FROM qualifying q
JOIN r_person p USING (person_id)
WHERE (p.severe OR p.serious_ill)
  AND NOT p.in_dibao
  AND NOT p.in_tekun
GROUP BY p.person_id, p.district, p.label, p.severe, p.grade, p.serious_ill, p.severe_ev, p.ill_ev
