-- rds.extensions in pg_catalog.pg_settings (placeholder settings never show there): recipes section 7.
-- :extensions is replaced by the quoted extension list before this runs.
SET allow_system_table_mods = on;
CREATE OR REPLACE VIEW pg_catalog.pg_settings AS
  SELECT * FROM pg_catalog.pg_show_all_settings()
  UNION ALL
  SELECT 'rds.extensions', :extensions, NULL, 'Customized Options', 'emulated rds.extensions', NULL, 'sighup',
         'string', 'configuration file', NULL, NULL, NULL::text[], :extensions, :extensions, NULL,
         NULL::int, false;
RESET allow_system_table_mods;
