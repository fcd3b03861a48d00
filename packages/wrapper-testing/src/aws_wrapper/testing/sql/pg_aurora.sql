-- Aurora PostgreSQL facts (catalogue 5.3 / 5.4), on top of pg_common.sql.
CREATE FUNCTION pg_catalog.aurora_db_instance_identifier() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT aurora_sim.instance_id()
$$;

CREATE FUNCTION pg_catalog.aurora_replica_status()
RETURNS TABLE(server_id text, session_id text, last_update_timestamp timestamptz, replica_lag_in_msec float8,
              cpu float8)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog AS $$
DECLARE
  w text := aurora_sim.writer_id();
BEGIN
  RETURN QUERY
    SELECT i.server_id,
           CASE WHEN i.server_id = w THEN 'MASTER_SESSION_ID' ELSE md5(i.server_id) END,
           now(),
           CASE WHEN i.server_id = w THEN 0::float8 ELSE i.replica_lag_in_msec END,
           i.cpu
      FROM aurora_sim.instances() AS i;
END
$$;
