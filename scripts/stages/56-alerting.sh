# Alerting end to end: real gateway processes and real peers (aiosmtpd, Debian's prometheus-alertmanager,
# promtool from Debian's prometheus). The in-process alerting tests run in the gateway stage.
stage_alerting() { "$PY" -m pytest -q -p no:cacheprovider gateway/alerting_tests; }

run_stage alerting stage_alerting
