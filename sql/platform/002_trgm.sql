-- pg_trgm (likely-duplicate customers: similarity of normalized names) in a
-- schema of its own that every tenant role may use: tenant roles have no
-- right on `public`, and ext holds no data. A DBA may create it beforehand
-- (scripts/stack.sh does, as superuser); pg_trgm is a trusted extension, so
-- the database owner can create it too.
CREATE SCHEMA IF NOT EXISTS ext;
GRANT USAGE ON SCHEMA ext TO PUBLIC;
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA ext;
