-- Q03 身份待核实: an accepted row with no usable ID (missing, Excel-truncated, only a J/L student
-- number), or that reached its person only by a probabilistic link below the auto-accept
-- threshold (the review band). Names the row's person.
WITH doubtful AS (
    SELECT r.person_id, r.district, r.ev,
           $source_labels[list_position($sources, r.source)] || r.source_file || '第' || r.source_row || '行'
           || CASE WHEN list_contains($no_usable_id_kinds, r.id_kind)
                   THEN $id_kind_labels[list_position($no_usable_id_kinds, r.id_kind)]
                   ELSE '仅凭概率匹配关联(匹配概率' || coalesce(printf('%.2f', r.match_probability), '—') || ',待核实)' END
               AS what
    FROM r_rec r
    WHERE list_contains($no_usable_id_kinds, r.id_kind)
       OR r.match_method = $review_band_method
       OR contains(coalesce(r.match_method, ''), $review_band_marker)
)
SELECT 'Q03' AS rule_code,
       d.person_id,
       NULL AS household_key,
       min(d.district) AS district,
       p.label || ' ' || string_agg(d.what, '、' ORDER BY d.ev) || ',身份待核实' AS reason,
       list(d.ev ORDER BY d.ev) AS evidence
FROM doubtful d
JOIN r_person p USING (person_id)
GROUP BY d.person_id, p.label
