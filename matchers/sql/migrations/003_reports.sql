-- Reports: who exported or imported which officer spreadsheet, when.
-- Append-only like `reviews`: no run deletes or changes a row here.

CREATE TABLE IF NOT EXISTS audit_log (
    logged_at   TIMESTAMP NOT NULL,
    action      VARCHAR NOT NULL,   -- export_workbook / import_workbook / export_report
    quarter     VARCHAR,
    district    VARCHAR,            -- 全市 for the city report
    file        VARCHAR,            -- file name, no folder
    sha256      VARCHAR,            -- content hash of the file written or read
    actor       VARCHAR,            -- who: reviewer / OS user / dagster run id, when known
    rows        INTEGER,            -- flags exported, or reviews written by an import
    details     JSON                -- counts: skipped, problems, per rule ...
);
