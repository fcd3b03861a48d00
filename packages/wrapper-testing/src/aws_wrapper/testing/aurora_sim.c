/*
 * aurora_sim: a MariaDB daemon plugin that only declares two read-only system variables, so that the Aurora
 * MySQL facts `@@aurora_server_id` and `SHOW VARIABLES LIKE 'aurora_version'` answer on a local MariaDB server.
 *
 * Part of aws-wrapper-testing. The local cluster compiles this file at start-up against the public plugin
 * headers (libmariadbd-dev) and loads it with `plugin-load-add = aurora_sim.so`; each node sets its own id
 * with `loose-aurora-server-id = <instance id>` in its option file.
 *
 * Sysvars of a plugin are named "<plugin>_<var>": plugin "aurora" + var "server_id" -> aurora_server_id.
 * PLUGIN_VAR_READONLY makes `SET GLOBAL aurora_server_id = ...` fail with error 1238, as on Aurora.
 */
#include <mysql/plugin.h>

/*
 * A daemon plugin's interface version is the server version id shifted left by 8, and the server only loads
 * a plugin built for its own version. The harness passes the running server's version id, so headers from a
 * neighbouring patch release still produce a loadable plugin.
 */
#ifdef AURORA_SIM_SERVER_VERSION_ID
#define AURORA_SIM_DAEMON_VERSION (AURORA_SIM_SERVER_VERSION_ID << 8)
#else
#define AURORA_SIM_DAEMON_VERSION MYSQL_DAEMON_INTERFACE_VERSION
#endif

static char *aurora_sim_server_id;
static char *aurora_sim_version;

static MYSQL_SYSVAR_STR(server_id, aurora_sim_server_id, PLUGIN_VAR_READONLY | PLUGIN_VAR_RQCMDARG,
                        "Instance identifier reported as @@aurora_server_id", NULL, NULL, "");

static MYSQL_SYSVAR_STR(version, aurora_sim_version, PLUGIN_VAR_READONLY | PLUGIN_VAR_RQCMDARG,
                        "Aurora MySQL version reported as @@aurora_version", NULL, NULL, "3.08.0");

static struct st_mysql_sys_var *aurora_sim_vars[] = {
  MYSQL_SYSVAR(server_id),
  MYSQL_SYSVAR(version),
  NULL
};

static struct st_mysql_daemon aurora_sim_info = { AURORA_SIM_DAEMON_VERSION };

maria_declare_plugin(aurora)
{
  MYSQL_DAEMON_PLUGIN,
  &aurora_sim_info,
  "aurora",                               /* name: prefix of the system variables */
  "aws-wrapper-testing",                  /* author */
  "Emulated Aurora MySQL system variables for local testing",
  PLUGIN_LICENSE_GPL,
  NULL,                                   /* init */
  NULL,                                   /* deinit */
  0x0100,                                 /* version 1.0 */
  NULL,                                   /* status variables */
  aurora_sim_vars,
  "1.0",
  MariaDB_PLUGIN_MATURITY_STABLE          /* EXPERIMENTAL is refused by the default --plugin-maturity */
}
maria_declare_plugin_end;
