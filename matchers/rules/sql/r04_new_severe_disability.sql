-- R04 新增重度残疾: a member of a `poverty` household 已脱贫 or monitored, severe disability now,
-- not severe in the previous quarter's `disability` extract ($prev_quarter: its published
-- source_records; when that quarter was never compared, its staged extract, whose rows reach this
-- quarter's persons through their valid ID). The engine skips this rule when there is no previous
-- quarter. Names that member.
WITH previous AS (
    SELECT person_id, min(grade) AS grade
    FROM (
        SELECT person_id, grade
        FROM source_records
        WHERE quarter = $prev_quarter AND source = $src_disability AND grade IS NOT NULL
        UNION ALL
        SELECT p.person_id, s.grade
        FROM stg_records s
        JOIN work_persons p ON p.id_number = s.id_norm
        WHERE s.quarter = $prev_quarter AND s.source = $src_disability AND s.grade IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM source_records WHERE quarter = $prev_quarter)
    )
    GROUP BY person_id
),
qualifying AS (
    SELECT m.person_id, h.household_id, h.district, h.head_ev
    FROM r_members m
    JOIN r_household_facts h USING (household_key)
    WHERE h.source = $src_poverty
      AND (h.poverty_status = $poverty_lifted OR h.monitored)
)
SELECT 'R04' AS rule_code,
       p.person_id,
       NULL AS household_key,
       coalesce(p.district, min(q.district)) AS district,
       p.label || ' 所在建档立卡户(户编号' || string_agg(DISTINCT q.household_id, '、' ORDER BY q.household_id)
           || ')已脱贫或为监测对象,本季度残疾等级' || $grade_labels[p.grade] || ',上季度('
           || $prev_quarter || ')'
           || CASE WHEN pr.grade IS NULL THEN '未持残疾人证' ELSE '残疾等级' || $grade_labels[pr.grade] END
           || ',新增重度残疾' AS reason,
       list_concat(p.severe_ev, list(q.head_ev ORDER BY q.head_ev)) AS evidence
FROM qualifying q
JOIN r_person p USING (person_id)
LEFT JOIN previous pr USING (person_id)
WHERE p.severe
  AND NOT coalesce(list_contains($severe_grades, pr.grade), false)
GROUP BY p.person_id, p.district, p.label, p.grade, pr.grade, p.severe_ev
