-- R02 收入大幅下降: a `poverty` household 已脱贫 or monitored, income_prev > 0 and
-- (income_prev − income_per_capita) ÷ income_prev ≥ income_drop_ratio. Names the head.
SELECT 'R02' AS rule_code,
       h.head_person_id AS person_id,
       h.household_key,
       h.district,
       h.head_label || ' 户(户编号' || h.household_id || ')'
           || CASE WHEN h.poverty_status = $poverty_lifted THEN '已脱贫' ELSE '为监测对象(' || h.monitor_type || ')' END
           || ',家庭年人均纯收入由上年' || yuan(h.income_prev) || '元降至' || yuan(h.income_per_capita)
           || '元,下降' || pct((h.income_prev - h.income_per_capita) / h.income_prev)
           || ',达到' || pct(t.income_drop_ratio) AS reason,
       [h.head_ev] AS evidence
FROM r_household_facts h
JOIN r_thresholds t ON t.district IS NOT DISTINCT FROM h.district
WHERE h.source = $src_poverty
  AND (h.poverty_status = $poverty_lifted OR h.monitored)
  AND h.income_prev > 0
  AND (h.income_prev - h.income_per_capita) / h.income_prev >= t.income_drop_ratio
