-- Person resolution: the pinyin surname of a person, so that earlier persons can be
-- blocked on it like rows.
ALTER TABLE persons ADD COLUMN IF NOT EXISTS surname_pinyin VARCHAR;
ALTER TABLE work_persons ADD COLUMN IF NOT EXISTS surname_pinyin VARCHAR;
