-- M06 疑似支出型贫困: a `poverty` household not in 低保/特困 where
-- (household income − medical burden − members' tuition) ÷ members < dibao_standard_monthly × 12.
-- Names the head.
WITH household AS (
    SELECT h.*,
           t.dibao_standard_monthly * 12 AS dibao_annual,
           (h.household_income - h.medical_burden - h.members_tuition) / h.roll_members AS left_per_capita
    FROM r_household_facts h
    JOIN r_thresholds t ON t.district IS NOT DISTINCT FROM h.district
    WHERE h.source = $src_poverty
      AND NOT h.in_support
      AND h.roll_members > 0
      AND h.income_per_capita IS NOT NULL
)
SELECT 'M06' AS rule_code,
       head_person_id AS person_id,
       household_key,
       district,
       head_label || ' 户(户编号' || household_id || ')未纳入低保或特困,家庭年收入' || yuan(household_income)
           || '元,扣除医疗自付' || yuan(medical_burden) || '元、学费' || yuan(members_tuition)
           || '元后人均' || yuan(round(left_per_capita, 2)) || '元/年,低于低保标准'
           || yuan(dibao_annual) || '元/年' AS reason,
       list_concat([head_ev], medical_ev, education_ev) AS evidence
FROM household
WHERE left_per_capita < dibao_annual
