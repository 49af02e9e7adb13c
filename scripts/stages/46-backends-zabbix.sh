# The zabbix backend against a real Zabbix server 6.0 (Debian's zabbix-server-pgsql over a PostgreSQL
# the fixture initdb's), started once for the whole stage on free ports and stopped at the end.
stage_backends_zabbix() {
  "$PY" -m pytest -q -p no:cacheprovider sidecar/tests_zabbix
}

run_stage backends-zabbix stage_backends_zabbix
