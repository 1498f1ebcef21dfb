-- Warehouse schema v1. Public tables follow ../shared/contract/WAREHOUSE.md (add columns, never
-- rename or drop). Tables prefixed stg_ / work_ are internal staging.

CREATE TABLE IF NOT EXISTS reviews (
    flag_id     VARCHAR NOT NULL,
    decision    VARCHAR NOT NULL,
    note        VARCHAR,
    reviewer    VARCHAR,
    decided_at  TIMESTAMP NOT NULL,
    quarter     VARCHAR,          -- the quarter of the flag when decided (informational)
    import_file VARCHAR,          -- workbook it came from, if imported
    import_row  INTEGER
);

-- One typed, normalised row per accepted extract row, before resolution (internal).
CREATE TABLE IF NOT EXISTS stg_records (
    quarter             VARCHAR NOT NULL,
    source              VARCHAR NOT NULL,
    source_file         VARCHAR NOT NULL,
    source_row          INTEGER NOT NULL,
    name_raw            VARCHAR,
    id_raw              VARCHAR,
    name_norm           VARCHAR,
    name_key            VARCHAR,   -- simplified, dot-free match key
    name_pinyin         VARCHAR,   -- pinyin key (homophones share it)
    surname_pinyin      VARCHAR,
    name_wildcard       BOOLEAN,   -- name has ?/□/_ standing for an unencodable character
    id_norm             VARCHAR,
    id_issue            VARCHAR,
    id_evidence         VARCHAR,   -- digits kept from an unrepairable ID (truncated prefix, 17 digits)
    id_kind             VARCHAR,   -- id / cert / student_g / student_j / student_l / none
    id_birth_date       DATE,
    id_sex              VARCHAR,
    id_region           VARCHAR,
    sex                 VARCHAR,
    district            VARCHAR,
    street              VARCHAR,
    community           VARCHAR,
    row_issues          VARCHAR,   -- cells that were blanked (negative or non-numeric amounts ...)
    household_id        VARCHAR,
    relation            VARCHAR,
    category            VARCHAR,
    monthly_amount      DOUBLE,
    household_size      INTEGER,
    status              VARCHAR,
    status_date         DATE,
    poverty_status      VARCHAR,
    monitor_type        VARCHAR,
    income_per_capita   DOUBLE,
    income_prev         DOUBLE,
    risk_cause          VARCHAR,
    health              VARCHAR,
    cert_number         VARCHAR,
    grade               INTEGER,
    living_subsidy      BOOLEAN,
    nursing_subsidy     BOOLEAN,
    student_number      VARCHAR,
    school              VARCHAR,
    stage               VARCHAR,
    school_type         VARCHAR,
    tuition             DOUBLE,
    aid_programme       VARCHAR,
    aid_amount          DOUBLE,
    guardian_name       VARCHAR,
    guardian_name_norm  VARCHAR,
    guardian_id         VARCHAR,   -- as received
    guardian_id_norm    VARCHAR,
    safety_grade        VARCHAR,
    aid_type            VARCHAR,
    renovation          VARCHAR,
    settle_date         DATE,
    total_cost          DOUBLE,
    insurance_paid      DOUBLE,
    critical_illness_paid DOUBLE,
    aid_paid            DOUBLE,
    out_of_pocket       DOUBLE,
    diagnosis           VARCHAR
);

CREATE TABLE IF NOT EXISTS stg_rejected (
    quarter     VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    source_row  INTEGER,
    reason      VARCHAR NOT NULL,
    raw         JSON
);

-- What each ingestion read: one row per file, with its content hash (nightly refresh skips
-- sources whose files are unchanged).
CREATE TABLE IF NOT EXISTS stg_files (
    quarter     VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    sha256      VARCHAR NOT NULL,
    size_bytes  BIGINT,
    data_rows   INTEGER,
    accepted    INTEGER,
    rejected    INTEGER,
    encoding    VARCHAR,
    header_row  INTEGER,
    loaded_at   TIMESTAMP
);

-- Public: every accepted extract row, resolved to a person. Same columns as stg_records plus the
-- resolution columns.
CREATE TABLE IF NOT EXISTS source_records AS SELECT * FROM stg_records WITH NO DATA;
ALTER TABLE source_records ADD COLUMN IF NOT EXISTS person_id VARCHAR;
ALTER TABLE source_records ADD COLUMN IF NOT EXISTS match_method VARCHAR;
ALTER TABLE source_records ADD COLUMN IF NOT EXISTS match_probability DOUBLE;
ALTER TABLE source_records ADD COLUMN IF NOT EXISTS match_explanation VARCHAR;

CREATE TABLE IF NOT EXISTS rejected_rows (
    quarter     VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    source_row  INTEGER,
    reason      VARCHAR NOT NULL,
    raw         JSON
);

CREATE TABLE IF NOT EXISTS persons (
    person_id   VARCHAR PRIMARY KEY,
    id_number   VARCHAR,
    name        VARCHAR,
    sex         VARCHAR,
    birth_date  DATE,
    district    VARCHAR,
    name_key    VARCHAR,
    name_pinyin VARCHAR,
    first_quarter VARCHAR,
    last_quarter  VARCHAR
);

-- Households: assistance and poverty household_ids with their members (and students through
-- their guardian). household_key = '<source>:<household_id>'.
CREATE TABLE IF NOT EXISTS household_members (
    quarter       VARCHAR NOT NULL,
    household_key VARCHAR NOT NULL,
    source        VARCHAR NOT NULL,
    household_id  VARCHAR NOT NULL,
    person_id     VARCHAR NOT NULL,
    relation      VARCHAR,
    is_head       BOOLEAN,
    via           VARCHAR      -- member / guardian
);

CREATE TABLE IF NOT EXISTS flags (
    quarter       VARCHAR NOT NULL,
    flag_id       VARCHAR NOT NULL,
    rule_code     VARCHAR NOT NULL,
    person_id     VARCHAR NOT NULL,
    household_key VARCHAR,
    district      VARCHAR,
    reason        VARCHAR NOT NULL,
    evidence      JSON,
    first_seen    VARCHAR NOT NULL,
    review_status VARCHAR NOT NULL
);

-- Every run that changed the warehouse, with the config in force.
CREATE TABLE IF NOT EXISTS run_log (
    quarter     VARCHAR,
    step        VARCHAR,
    run_id      VARCHAR,
    started_at  TIMESTAMP,
    finished_at TIMESTAMP,
    details     JSON
);

-- Work tables: what a run computes before it publishes. `publish_quarter` swaps them into the
-- public tables in one transaction, so a run that fails half-way leaves the public tables as
-- they were.
CREATE TABLE IF NOT EXISTS work_source_records AS SELECT * FROM source_records WITH NO DATA;
CREATE TABLE IF NOT EXISTS work_persons AS SELECT * FROM persons WITH NO DATA;
CREATE TABLE IF NOT EXISTS work_household_members AS SELECT * FROM household_members WITH NO DATA;
CREATE TABLE IF NOT EXISTS work_flags AS SELECT * FROM flags WITH NO DATA;
