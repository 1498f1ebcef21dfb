-- The person-matching model each quarter was resolved with: estimated on that quarter's rows, or
-- the shipped fallback and why. A row per (quarter, model_sha256): the refresh of a published
-- quarter reads the model its base was resolved with from here (run_log records the sha256).
CREATE TABLE IF NOT EXISTS match_models (
    quarter VARCHAR NOT NULL,
    model_sha256 VARCHAR NOT NULL,   -- sha256 of model_json
    fallback BOOLEAN NOT NULL,       -- true: the shipped person_model.json was used
    fallback_reason VARCHAR,         -- Chinese, why the quarter's own estimate was not used
    evidence JSON,                   -- the pair counts the estimate was made from
    model_json VARCHAR NOT NULL,     -- the whole model (matchers.resolution.model.Model.to_json)
    created_at TIMESTAMP NOT NULL
);

-- The same models as one row per comparison level: m, u and the weight log2(m/u).
CREATE TABLE IF NOT EXISTS match_model_weights (
    quarter VARCHAR NOT NULL,
    model_sha256 VARCHAR NOT NULL,
    comparison VARCHAR NOT NULL,
    comparison_label VARCHAR NOT NULL,
    level VARCHAR NOT NULL,
    level_label VARCHAR NOT NULL,
    level_order INTEGER NOT NULL,
    m DOUBLE NOT NULL,
    u DOUBLE NOT NULL,
    weight DOUBLE NOT NULL
);
