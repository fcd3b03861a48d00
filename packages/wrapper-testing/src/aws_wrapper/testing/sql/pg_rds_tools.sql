-- RDS PostgreSQL / Multi-AZ DB cluster facts (catalogue 5.3 / 5.4), on top of pg_common.sql.
-- :multi_az is replaced by true (multi-az flavour) or false (rds flavour) before this runs.
CREATE SCHEMA rds_tools;

CREATE FUNCTION rds_tools.dbi_resource_id() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT i ->> 'resource_id' FROM jsonb_array_elements(aurora_sim.state() -> 'instances') AS i
   WHERE i ->> 'id' = aurora_sim.instance_id()
$$;

-- one function with a defaulted argument (not two overloads), so 'rds_tools.show_topology'::regproc resolves
CREATE FUNCTION rds_tools.show_topology(client text DEFAULT NULL)
RETURNS TABLE(id text, endpoint text, port int, role text, status text, version text)
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT i.resource_id, i.endpoint, i.port, NULL::text, NULL::text, '1.0'::text FROM aurora_sim.instances() AS i
$$;

-- the writer's resource id on a Multi-AZ DB cluster; NULL on a plain RDS instance
CREATE FUNCTION rds_tools.multi_az_db_cluster_source_dbi_resource_id() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT i ->> 'resource_id' FROM jsonb_array_elements(aurora_sim.state() -> 'instances') AS i
   WHERE :multi_az AND i ->> 'id' = aurora_sim.writer_id()
$$;
