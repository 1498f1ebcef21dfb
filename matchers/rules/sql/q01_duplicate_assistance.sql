-- Q01 重复享受救助: a person listed on the rolls of two or more different `assistance` households
-- with active assistance (在保, 低保/特困). A student reached only through a guardian is not listed,
-- so not counted. Names that person.
SELECT 'Q01' AS rule_code,
       m.person_id,
       NULL AS household_key,
       coalesce(p.district, min(h.district)) AS district,
       p.label || ' 同时为' || count(DISTINCT h.household_key) || '个在保低保/特困家庭的成员(家庭编号'
           || string_agg(DISTINCT h.household_id, '、' ORDER BY h.household_id) || ')' AS reason,
       list(h.head_ev ORDER BY h.head_ev) AS evidence
FROM r_members m
JOIN r_households h USING (household_key)
JOIN r_person p USING (person_id)
WHERE h.source = $src_assistance
  AND (h.active_dibao OR h.active_tekun)
GROUP BY m.person_id, p.district, p.label
HAVING count(DISTINCT h.household_key) >= 2
