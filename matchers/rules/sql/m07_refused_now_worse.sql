-- M07 申请被拒后困难加重: an `assistance` household with status 未批准 dated within 12 months, with
-- now a member with severe disability or serious illness, or medical burden ≥ medical_burden_amount.
-- Names the head.
SELECT 'M07' AS rule_code,
       h.head_person_id AS person_id,
       h.household_key,
       h.district,
       h.head_label || ' 户(家庭编号' || h.household_id || ')于' || strftime(h.refused_date, '%Y-%m-%d')
           || '申请救助未批准,现'
           || array_to_string(list_concat(
                  list_transform(h.hardship, lambda x: '家庭成员' || x),
                  CASE WHEN h.medical_burden >= t.medical_burden_amount
                       THEN ['家庭医疗自付' || yuan(h.medical_burden) || '元,达到' || yuan(t.medical_burden_amount) || '元']
                       ELSE [] END), ';') AS reason,
       list_concat(h.refused_ev, h.hardship_ev,
                   CASE WHEN h.medical_burden >= t.medical_burden_amount THEN h.medical_ev ELSE [] END) AS evidence
FROM r_household_facts h
JOIN r_thresholds t ON t.district IS NOT DISTINCT FROM h.district
WHERE h.source = $src_assistance
  AND h.refused_date IS NOT NULL
  AND (h.any_severe OR h.any_ill OR h.medical_burden >= t.medical_burden_amount)
