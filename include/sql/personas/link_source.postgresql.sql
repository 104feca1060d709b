-- PostgreSQL: COPY the new links into staging, then one INSERT (see link_source.sql).
CREATE TEMPORARY TABLE IF NOT EXISTS stg_new_links (
    credential VARCHAR(100), customer_id VARCHAR(200), persona_id VARCHAR(40),
    first_seen_at TIMESTAMP WITH TIME ZONE
);
DELETE FROM stg_new_links;
COPY stg_new_links (credential, customer_id, persona_id, first_seen_at) FROM STDIN;
INSERT INTO persona_sources (credential, customer_id, persona_id, first_seen_at)
SELECT credential, customer_id, persona_id, first_seen_at FROM stg_new_links
ON CONFLICT (credential, customer_id) DO NOTHING
