-- The table of applied migrations; created before any migration runs.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER      NOT NULL PRIMARY KEY,
    name        VARCHAR(200) NOT NULL,
    applied_at  TIMESTAMP WITH TIME ZONE NOT NULL
);
