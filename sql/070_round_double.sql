-- The Python tool's Grafana panels call round(double precision, integer), which PostgreSQL lacks
-- (only round(numeric, integer)): three of its ten panel queries fail with "function
-- round(double precision, integer) does not exist", on its own database too. This one makes them
-- work unchanged. It rounds as numeric does (half away from zero) and returns numeric, as the
-- queries' authors expected.
CREATE OR REPLACE FUNCTION round(double precision, integer) RETURNS numeric
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS 'SELECT round($1::numeric, $2)';
