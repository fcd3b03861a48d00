-- Installed by the local cluster in template1 and postgres of a new PostgreSQL cluster (every flavour except
-- plain), so every database created later has it too. The cluster state (instances, last promoted writer,
-- overrides) is a JSON document the harness keeps in the comment of the role aurora_sim: a shared catalog,
-- so all databases see the same state, and a replicated one, so all nodes do.
CREATE SCHEMA aurora_sim;

CREATE FUNCTION aurora_sim.state() RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT coalesce(shobj_description(r.oid, 'pg_authid'), '{}')::jsonb
    FROM pg_roles r WHERE r.rolname = 'aurora_sim'
$$;

-- this node's own instance id (from its node.conf, never replicated)
CREATE FUNCTION aurora_sim.instance_id() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT current_setting('aurora_sim.instance_id', true)
$$;

-- the writer as this node sees it: an override set by a test, else itself when it is not in recovery, else
-- the instance it streams WAL from, else the writer the harness last promoted
CREATE FUNCTION aurora_sim.writer_id() RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  s jsonb := aurora_sim.state();
  w text := s ->> 'writer_override';
BEGIN
  IF w IS NOT NULL THEN
    RETURN w;
  END IF;
  IF NOT pg_is_in_recovery() THEN
    RETURN aurora_sim.instance_id();
  END IF;
  SELECT i ->> 'id' INTO w
    FROM jsonb_array_elements(s -> 'instances') AS i, pg_stat_wal_receiver AS r
   WHERE r.status = 'streaming' AND r.sender_host = i ->> 'server_host'
     AND r.sender_port = (i ->> 'server_port')::int
   LIMIT 1;
  RETURN coalesce(w, s ->> 'writer');
END
$$;

-- the instances the topology reports (hidden ones left out), in index order
CREATE FUNCTION aurora_sim.instances()
RETURNS TABLE(server_id text, host text, port int, endpoint text, resource_id text, cpu float8,
              replica_lag_in_msec float8)
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT i ->> 'id', i ->> 'host', (i ->> 'port')::int, i ->> 'endpoint', i ->> 'resource_id',
         (i ->> 'cpu')::float8, (i ->> 'replica_lag_in_msec')::float8
    FROM jsonb_array_elements(aurora_sim.state() -> 'instances') WITH ORDINALITY AS t(i, n)
   WHERE NOT coalesce((i ->> 'hidden')::bool, false)
   ORDER BY n
$$;
