# The AWS backends (s3, sqs, cloudwatch, xray) against moto in server mode: an AWS protocol emulator (not AWS) from
# PyPI, started once for the whole stage on a free port and stopped at the end.
AWS_BENCHES=(bench/s3_backend.py bench/sqs_backend.py bench/cloudwatch_backend.py bench/xray_backend.py)
stage_lint_backends_aws() {
  ruff check sidecar/tests_aws testkit/src/wafermon_testkit/moto_server.py "${AWS_BENCHES[@]}"
  ruff format --check sidecar/tests_aws testkit/src/wafermon_testkit/moto_server.py "${AWS_BENCHES[@]}"
}
stage_backends_aws() {
  "$PY" -m pytest -q -p no:cacheprovider sidecar/tests_aws
}

run_stage lint-backends-aws stage_lint_backends_aws
run_stage backends-aws stage_backends_aws
