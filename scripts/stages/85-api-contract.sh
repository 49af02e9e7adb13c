# API contract: schemathesis over the gateway's and the sidecar's OpenAPI documents, against real
# processes started by scripts/api_contract.py (no 5xx, only documented statuses, answers match schemas).
stage_api_contract() { "$PY" scripts/api_contract.py --max-examples 100; }

run_stage api-contract stage_api_contract
