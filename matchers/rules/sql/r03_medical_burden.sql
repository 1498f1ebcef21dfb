-- R03 因病返贫风险: a `poverty` household 已脱贫 or monitored, medical burden ≥ medical_burden_ratio ×
-- household income or ≥ medical_burden_amount. Names the head. As written, a household with no
-- income at all meets the ratio test whatever its burden.
SELECT 'R03' AS rule_code,
       h.head_person_id AS person_id,
       h.household_key,
       h.district,
       h.head_label || ' 户(户编号' || h.household_id || ')'
           || CASE WHEN h.poverty_status = $poverty_lifted THEN '已脱贫' ELSE '为监测对象(' || h.monitor_type || ')' END
           || ',家庭成员医疗自付' || yuan(h.medical_burden) || '元'
           || CASE WHEN h.household_income > 0
                   THEN ',占家庭年收入' || yuan(h.household_income) || '元的' || pct(h.medical_burden / h.household_income)
                   ELSE ',家庭年收入' || yuan(h.household_income) || '元' END
           || CASE WHEN h.medical_burden >= t.medical_burden_amount
                   THEN ',达到' || yuan(t.medical_burden_amount) || '元'
                   ELSE ',达到' || pct(t.medical_burden_ratio) END AS reason,
       list_concat([h.head_ev], h.medical_ev) AS evidence
FROM r_household_facts h
JOIN r_thresholds t ON t.district IS NOT DISTINCT FROM h.district
WHERE h.source = $src_poverty
  AND (h.poverty_status = $poverty_lifted OR h.monitored)
  AND (h.medical_burden >= t.medical_burden_ratio * h.household_income
       OR h.medical_burden >= t.medical_burden_amount)
