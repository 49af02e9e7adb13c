# The AWS backends (s3, sqs, cloudwatch, xray) against moto in server mode: an AWS protocol emulator (not AWS) from
# PyPI, started once for the whole stage on a free port and stopped at the end.
stage_backends_aws() {
  "$PY" -m pytest -q -p no:cacheprovider sidecar/tests_aws
}

run_stage backends-aws stage_backends_aws
