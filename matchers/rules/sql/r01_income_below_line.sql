-- R01 收入低于监测线: a `poverty` household 已脱贫 with income_per_capita < monitoring_line_annual.
-- Names the head.
SELECT 'R01' AS rule_code,
       h.head_person_id AS person_id,
       h.household_key,
       h.district,
       h.head_label || ' 户(户编号' || h.household_id || ')已脱贫,家庭年人均纯收入'
           || yuan(h.income_per_capita) || '元,低于防返贫监测线' || yuan(t.monitoring_line_annual) || '元' AS reason,
       [h.head_ev] AS evidence
FROM r_household_facts h
JOIN r_thresholds t ON t.district IS NOT DISTINCT FROM h.district
WHERE h.source = $src_poverty
  AND h.poverty_status = $poverty_lifted
  AND h.income_per_capita < t.monitoring_line_annual
